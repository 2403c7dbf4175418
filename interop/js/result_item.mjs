// Parses a function call result item (JSON, argv[2]) with @openai/agents-core's protocol
// schema and prints what the schema keeps; exits non-zero if the schema refuses it.
import { protocol } from '@openai/agents-core';

const parsed = protocol.FunctionCallResultItem.parse(JSON.parse(process.argv[2]));
console.log(JSON.stringify(parsed));
