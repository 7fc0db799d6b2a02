import type { Logger } from 'pino';
import type { DeskMetrics } from './metrics.js';
import type { Readiness } from './readiness.js';
import { OpsServer } from './server.js';

export {
  DeskMetrics,
  METRIC_PREFIX,
  UNKNOWN_COMMAND,
  processMetrics,
  type AlertOutcome,
  type CircuitState,
  type CommandOutcome,
  type ExchangeErrorKind,
  type LlmCallRecord,
  type MetricProbes,
  type MetricSources,
} from './metrics.js';
export { Readiness, type CheckResult, type ReadinessDeps, type ReadinessReport } from './readiness.js';
export { OpsServer, type OpsServerOptions } from './server.js';

export interface OpsConfig {
  enabled: boolean;
  host: string;
  port: number;
}

/**
 * Start the ops server when config asks for it. A port that cannot be bound is logged as an
 * error and the desk runs on without it: chat, orders and halts must not depend on the metrics
 * port (Prometheus sees the target down, which is what alerts on it).
 */
export async function startOpsServer(opts: { config: OpsConfig; logger: Logger; metrics: DeskMetrics; readiness: Readiness }): Promise<OpsServer | undefined> {
  const { config, logger } = opts;
  if (!config.enabled) return undefined;
  try {
    const server = await OpsServer.start({
      host: config.host,
      port: config.port,
      logger,
      metrics: () => opts.metrics.scrape(),
      readiness: () => opts.readiness.check(),
    });
    logger.info({ url: server.url }, 'ops server listening (/metrics, /healthz, /readyz)');
    return server;
  } catch (err) {
    logger.error({ error: err instanceof Error ? err.message : String(err) }, 'ops server did not start; the desk runs without /metrics, /healthz and /readyz');
    return undefined;
  }
}
