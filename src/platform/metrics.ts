// Prometheus metrics. One registry per running node (not the global one), so tests can run
// several nodes in a process without their series colliding.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  observeHttp(method: string, route: string, status: number, seconds: number): void;
  render(): Promise<string>;
}

export function createMetrics(options: { collectProcessMetrics: boolean }): Metrics {
  const registry = new Registry();
  if (options.collectProcessMetrics) collectDefaultMetrics({ register: registry, prefix: 'gavel_' });
  const duration = new Histogram({
    name: 'gavel_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'gavel_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  return {
    registry,
    contentType: registry.contentType,
    observeHttp(method, route, status, seconds) {
      const labels = { method, route, status: String(status) };
      duration.observe(labels, seconds);
      requests.inc(labels);
    },
    render: () => registry.metrics(),
  };
}
