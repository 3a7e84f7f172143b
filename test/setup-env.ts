// Tests run on wasm unless told otherwise, and keep the backend log line out of the output.
process.env.AMAD_BACKEND ??= 'wasm';
process.env.AMAD_QUIET_BACKEND ??= '1';
// Trainer progress logs (JSON lines on stderr) are for operators, not test output.
process.env.AMAD_LOG_LEVEL ??= 'warn';
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
