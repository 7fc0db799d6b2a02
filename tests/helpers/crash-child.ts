/**
 * A desk that dies mid-order, for the crash test: `node --import tsx crash-child.ts <dataDir> <stage>`.
 * stage "after-sent": killed (SIGKILL) right after the journal says "sent", before the broker
 * is called. stage "after-broker": killed right after the paper broker filled the order, before
 * the gateway journaled the fill. Nothing is flushed or shut down: it is a hard kill.
 */
import { pino } from 'pino';
import { PaperBroker } from '../../src/brokers/paper/index.js';
import { readSecrets } from '../../src/kernel/config/secrets.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { crashConfig, CRASH_ORDER, CRASH_REQUESTER } from './crash-config.js';

const [dataDir, stage] = process.argv.slice(2);
if (!dataDir || (stage !== 'after-sent' && stage !== 'after-broker')) throw new Error('usage: crash-child.ts <dataDir> after-sent|after-broker');

if (stage === 'after-broker') {
  const place = PaperBroker.prototype.place;
  PaperBroker.prototype.place = async function (this: PaperBroker, order) {
    const update = await place.call(this, order);
    process.kill(process.pid, 'SIGKILL');
    return update;
  };
}

const kernel = await Kernel.start({ config: crashConfig(dataDir), secrets: readSecrets({}), logger: pino({ level: 'silent' }), discover: false });
if (stage === 'after-sent') {
  kernel.orders.onUpdate((o) => {
    if (o.state === 'sent') process.kill(process.pid, 'SIGKILL');
  });
}
process.stdout.write('placing\n');
await kernel.orders.place(CRASH_ORDER, CRASH_REQUESTER);
process.stdout.write('not killed\n');
