/**
 * A preload for the SIGTERM drill (`node --import tsx --import <this file> src/cli.ts start`): the
 * first time the paper broker is asked to place an order — the journal says "sent", the broker has
 * not answered — the process sends itself SIGTERM, then lets the order go on. It marks the moment
 * on stderr ("[drill] SIGTERM sent while the broker places <order id>") so the test can tell the
 * signal really arrived mid-order. Never import it from a test: it patches the class it imports.
 *
 * The CLI imports the same module file, so patching the class here patches the desk's broker.
 */
import process from 'node:process';
import { PaperBroker } from '../../src/brokers/paper/index.js';

/** what it writes to stderr (the test looks for the same text) */
const MARKER = '[drill] SIGTERM sent while the broker places';

const place = PaperBroker.prototype.place;
let fired = false;
PaperBroker.prototype.place = async function (this: PaperBroker, order) {
  if (!fired) {
    fired = true;
    process.stderr.write(`${MARKER} ${order.id}\n`);
    // the broker answers only once the signal has been delivered (the desk's handler runs first)
    const delivered = new Promise((resolve) => process.once('SIGTERM', resolve));
    process.kill(process.pid, 'SIGTERM');
    await delivered;
  }
  return place.call(this, order);
};
