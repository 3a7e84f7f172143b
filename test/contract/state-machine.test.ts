import { buildDefinition, localSubstitutions, SUBSTITUTIONS, substituteDefinition, TaskState, TOP_LEVEL_STAGES } from '../../contract/state-machine';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const validate = require('asl-validator') as (d: unknown, o?: unknown) => { isValid: boolean; errors: unknown[] };

type State = Record<string, unknown> & { Type: string };
/** Every state of the definition with its nesting path. */
function allStates(def: Record<string, unknown>): Map<string, State> {
  const out = new Map<string, State>();
  const visit = (states: Record<string, State>) => {
    for (const [name, s] of Object.entries(states)) {
      out.set(name, s);
      const inner = (s.ItemProcessor as { States: Record<string, State> } | undefined)?.States;
      if (inner) visit(inner);
    }
  };
  visit(def.States as Record<string, State>);
  return out;
}

test('the substituted definition passes asl-validator (ARNs and paths checked)', () => {
  const def = substituteDefinition(buildDefinition(), localSubstitutions('us-east-1', '123456789012'));
  const r = validate(structuredClone(def), { checkArn: true, checkPaths: true });
  expect(r.errors).toEqual([]);
  expect(r.isValid).toBe(true);
});

test('uses exactly the documented placeholders, each at least once', () => {
  const text = JSON.stringify(buildDefinition());
  const used = new Set([...text.matchAll(/\$\{([A-Za-z]+)\}/g)].map((m) => m[1]));
  expect([...used].sort()).toEqual([...SUBSTITUTIONS].sort());
  expect(() => substituteDefinition(buildDefinition(), { ValidateFunctionArn: 'arn:x' })).toThrow(/no value for definition placeholder\(s\): .*JobQueueArn/);
});

test('every Task state name is a handler key and no JSONata or distributed Map is used', () => {
  const states = allStates(buildDefinition());
  const tasks = [...states].filter(([, s]) => s.Type === 'Task').map(([n]) => n);
  expect(tasks.sort()).toEqual(Object.values(TaskState).sort());
  for (const [, s] of states) {
    expect(s.QueryLanguage).toBeUndefined();
    if (s.Type === 'Map') expect((s.ItemProcessor as { ProcessorConfig: { Mode: string } }).ProcessorConfig.Mode).toBe('INLINE');
    // Without an explicit TimeoutSeconds the local interpreter stops Tasks after 60 s.
    if (s.Type === 'Task') expect(s.TimeoutSeconds).toBeGreaterThanOrEqual(60);
  }
});

test('training jobs run the trainer with the job command and the spec time limit', () => {
  const states = allStates(buildDefinition());
  const teacher = states.get('TrainTeacher')!;
  expect(teacher.Resource).toBe('arn:aws:states:::batch:submitJob.sync');
  expect(teacher.Parameters).toMatchObject({
    'JobName.$': '$.run.teacher.job.jobName',
    ContainerOverrides: { 'Command.$': '$.run.teacher.job.command' },
    Timeout: { 'AttemptDurationSeconds.$': '$.run.jobTimeoutSeconds' },
  });
  expect(states.get('TrainStudents')).toMatchObject({ ItemsPath: '$.run.studentJobs', MaxConcurrencyPath: '$.run.maxParallelJobs' });
});

test('retries only transient errors; a failed student is caught inside its iteration', () => {
  const states = allStates(buildDefinition());
  for (const [name, s] of states) {
    for (const r of (s.Retry as { ErrorEquals: string[]; BackoffRate: number }[] | undefined) ?? []) {
      expect(r.ErrorEquals).not.toContain('States.ALL');
      expect(r.ErrorEquals).not.toContain('States.TaskFailed');
      expect(r.ErrorEquals).not.toContain('States.Timeout');
      expect(r.BackoffRate).toBeGreaterThan(1);
      expect(name).toBeTruthy();
    }
  }
  expect(states.get('TrainStudent')!.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'IsBatchFailure' }]); // trims the Cause, then StudentFailed
});

test('every top-level stage is caught and attributed before RecordFailure', () => {
  const top = buildDefinition().States as Record<string, State>;
  for (const stage of TOP_LEVEL_STAGES) {
    expect(top[stage].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: `${stage}Failed` }]);
    expect(top[`${stage}Failed`]).toEqual({ Type: 'Pass', Result: stage, ResultPath: '$.failedState', Next: 'RecordFailure' });
  }
  expect(top.RecordFailure.Next).toBe('NotifyFailure');
  expect(top.NotifyFailure.Next).toBe('RunFailed');
  expect(top.RunFailed.Type).toBe('Fail');
});
