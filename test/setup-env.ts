// Tests run on wasm unless told otherwise, and keep the backend log line out of the output.
process.env.AMAD_BACKEND ??= 'wasm';
process.env.AMAD_QUIET_BACKEND ??= '1';
