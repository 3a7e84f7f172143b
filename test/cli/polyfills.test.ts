import '../../cli/polyfills';

test('Promise.withResolvers exists and its promise settles through resolve and reject', async () => {
  const P = Promise as unknown as { withResolvers<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } };
  const ok = P.withResolvers<number>();
  ok.resolve(7);
  await expect(ok.promise).resolves.toBe(7);
  const bad = P.withResolvers<number>();
  bad.reject(new Error('no'));
  await expect(bad.promise).rejects.toThrow('no');
});
