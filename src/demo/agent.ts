// One demo agent, as its own process: `node --import tsx src/demo/agent.ts PART NAME [TASK]`
// with LEASEHOLD_URL and LEASEHOLD_TOKEN (its own agent token) in its env. It connects, says
// `@ready`, waits for `go` on stdin, plays its part (behaviours.ts, or mcp-agent.ts for the
// `mcp` part) and exits. If the demo goes away (stdin ends), so does the agent.
import { createInterface } from 'node:readline';
import { connect } from '../client/index.js';
import { parts } from './behaviours.js';
import { GO, signal } from './channel.js';
import { mcpAgent } from './mcp-agent.js';

const [part = '', name = '', taskId] = process.argv.slice(2);
const url = process.env.LEASEHOLD_URL ?? '';
const token = process.env.LEASEHOLD_TOKEN ?? '';
const play = parts[part];
if (part !== 'mcp' && !play) throw new Error(`unknown part "${part}"`);

const agent = connect({ url, token });
const input = createInterface({ input: process.stdin });
input.on('close', () => process.exit(0));
input.once('line', (line) => {
  if (line !== GO) throw new Error(`expected "${GO}", got "${line}"`);
  const played = part === 'mcp' ? mcpAgent(url, token, name, taskId!) : play!({ agent, name, ...(taskId && { taskId }) });
  played
    .then(async () => {
      await agent.close();
      process.exit(0);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
});
signal('ready');
