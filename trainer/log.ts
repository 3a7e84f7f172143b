/**
 * Structured logging for the trainer and the CLI: one JSON line per event on stderr (stdout is
 * kept for results and the progress display). Level from AMAD_LOG_LEVEL (default info).
 * Lambda handlers use Powertools' Logger instead, which adds the invocation context.
 */
import pino from 'pino';

export const log = pino(
  { level: process.env.AMAD_LOG_LEVEL ?? 'info', base: { service: 'amad' }, timestamp: pino.stdTimeFunctions.isoTime },
  pino.destination(2),
);
