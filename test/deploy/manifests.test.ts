// The deployment files (deploy/) against the code they deploy: every variable they set is an
// option Gavel reads and parses, the roles exist, probes and ports match what a node serves,
// and the pieces of each manifest point at each other. No Docker or Kubernetes runs here; this
// keeps the files from drifting away from the code.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { OPTIONS, loadConfig, type Config } from '../../src/platform/config.js';
import { SERVER_NODE_FLAGS } from '../../src/platform/node-flags.js';
import { REPO_ROOT } from '../support/process.js';

const deploy = (...p: string[]) => join(REPO_ROOT, 'deploy', ...p);
const ENV_NAMES = new Set(OPTIONS.map((o) => o.env));
// Read by the container image or Node itself, not by Gavel's options.
const PLATFORM_ENV = new Set(['NODE_ENV']);
const K8S_MANIFESTS = ['config.yaml', 'api.yaml', 'engine.yaml', 'worker.yaml', 'ingress.yaml'];
const HELM_VALUES = ['nats-values.yaml', 'postgresql-values.yaml'];

/** Placeholders for what the manifests leave to secrets, so the config can be parsed. */
const SECRET_VALUES: Record<string, string> = {
  DATABASE_URL: 'postgres://gavel:secret@db-primary:5432,db-standby:5432/gavel',
  DATABASE_REPLICA_URLS: 'postgres://gavel:secret@db-read:5432/gavel',
  GAVEL_PAYMENTS_WEBHOOK_SECRET: 'a-secret-of-at-least-16-chars',
  GAVEL_ADMIN_EMAIL: 'admin@gavel.example',
  GAVEL_ADMIN_PASSWORD: 'a long admin password',
};

/** The image's `ENV` (GAVEL_HOST, GAVEL_PORT, GAVEL_DATA_DIR): what a container starts with. */
function dockerfileEnv(): Record<string, string> {
  const dockerfile = readFileSync(deploy('Dockerfile'), 'utf8');
  const env: Record<string, string> = {};
  for (const [, line] of dockerfile.matchAll(/^ENV (.+)$/gm)) {
    for (const [, key, value] of line!.matchAll(/(\w+)=(\S+)/g)) env[key!] = value!;
  }
  return env;
}

function expectOnlyOptions(env: Record<string, unknown>, where: string): void {
  for (const key of Object.keys(env)) expect(ENV_NAMES.has(key) || PLATFORM_ENV.has(key), `${where}: ${key}`).toBe(true);
}

/** An nginx config without its comments; `upstream <name> { … }` as its server lines and the rest. */
function nginxUpstream(conf: string, name: string): { servers: string[]; body: string } {
  const body = new RegExp(`upstream\\s+${name}\\s*\\{([^}]*)\\}`).exec(conf)?.[1];
  expect(body, `upstream ${name}`).toBeDefined();
  const servers = [...body!.matchAll(/^\s*server\s+(\S+)/gm)].map((m) => m[1]!);
  return { servers, body: body! };
}

const withoutComments = (conf: string) => conf.replace(/#[^\n]*/g, '');

/** The `location <path> { … }` block of an nginx config. */
function location(conf: string, path: string): string {
  const start = conf.indexOf(`location ${path} `);
  expect(start, `location ${path}`).toBeGreaterThanOrEqual(0);
  return conf.slice(start, conf.indexOf('}', start));
}

function expectProxiesWebSocketsAndKeepAlive(conf: string, upstream: string): void {
  const ws = location(conf, '/ws');
  expect(ws).toContain(`proxy_pass http://${upstream}`);
  expect(ws).toContain('proxy_set_header Upgrade $http_upgrade');
  expect(ws).toContain('proxy_set_header Connection $connection_upgrade');
  expect(ws).toMatch(/proxy_read_timeout 3600s/);
  const rest = location(conf, '/');
  expect(rest).toContain(`proxy_pass http://${upstream}`);
  // Upstream keep-alive needs HTTP/1.1 and no "Connection: close" passed on.
  expect(rest).toContain('proxy_http_version 1.1');
  expect(rest).toContain('proxy_set_header Connection ""');
  expect(nginxUpstream(conf, upstream).body).toMatch(/^\s*keepalive \d+;/m);
}

describe('deploy/docker-compose.yml', () => {
  const compose = parse(readFileSync(deploy('docker-compose.yml'), 'utf8'), { merge: true });
  const image = dockerfileEnv();
  const configOf = (service: string): Config => loadConfig({}, { ...image, ...compose.services[service].environment });

  it('sets only variables Gavel reads, and each of api, engine and worker parses with its role alone', () => {
    const roles: Record<string, string[]> = { api: ['api'], engine: ['engine'], worker: ['worker'] };
    for (const [service, expected] of Object.entries(roles)) {
      expectOnlyOptions(compose.services[service].environment, service);
      const config = configOf(service);
      expect([...config.roles], service).toEqual(expected);
      expect(config.databaseUrl).toMatch(/^postgres:\/\/.*@postgres:5432\/gavel$/);
      expect(config.natsUrl?.split(',')).toHaveLength(3);
      expect(config.natsReplicas).toBe(3);
      // The lease bucket refuses a node with another lease time.
      expect(config.marketLeaseMs).toBe(configOf('api').marketLeaseMs);
    }
    expect(configOf('engine').marketLeaseMs).toBe(3000);
  });

  it('runs two engines, api nodes that can be scaled (no fixed host port), and lets a graceful stop finish', () => {
    expect(compose.services.engine.deploy.replicas).toBe(2);
    // A host port on a scaled service collides on the second container: nginx is the way in.
    expect(compose.services.api.ports).toBeUndefined();
    expect(compose.services.api.container_name).toBeUndefined();
    for (const service of ['api', 'engine', 'worker']) {
      const grace = /^(\d+)s$/.exec(compose.services[service].stop_grace_period)?.[1];
      expect(Number(grace) * 1000, service).toBeGreaterThan(configOf(service).shutdownTimeoutMs);
    }
  });

  it('mounts one named volume for lot images on the data dir of every api container', () => {
    const dataDir = configOf('api').dataDir;
    const mount = (compose.services.api.volumes as string[]).map((v) => v.split(':')).find(([, target]) => target === dataDir);
    expect(mount, `a volume on ${dataDir}`).toBeDefined();
    // A named volume (declared below), not a path: the same one for every replica.
    expect(Object.keys(compose.volumes)).toContain(mount![0]);
  });

  it('puts nginx on port 8080 in front of the api service, re-resolving its containers, with /ws upgraded', () => {
    const nginx = compose.services.nginx;
    expect(nginx.ports).toContain('8080:8080');
    const [source, target] = (nginx.volumes as string[])[0]!.split(':');
    expect(target).toBe('/etc/nginx/conf.d/default.conf');
    const confPath = join(REPO_ROOT, 'deploy', source!);
    expect(existsSync(confPath), source).toBe(true);
    const conf = withoutComments(readFileSync(confPath, 'utf8'));
    expect(conf).toMatch(/listen 8080;/);
    const { servers, body } = nginxUpstream(conf, 'gavel_api');
    expect(servers).toHaveLength(1);
    const [host, port] = servers[0]!.split(':');
    expect(host).toBe('api');
    expect([...configOf(host!).roles]).toEqual(['api']);
    expect(Number(port)).toBe(configOf('api').port);
    // Re-resolved through Docker's DNS, so a --scale joins without a reload.
    expect(body).toMatch(/server api:\d+ resolve/);
    expect(body).toMatch(/^\s*zone /m);
    expect(conf).toMatch(/resolver 127\.0\.0\.11/);
    expect(nginx.depends_on.api.condition).toBe('service_healthy');
    expectProxiesWebSocketsAndKeepAlive(conf, 'gavel_api');
  });

  it('runs a 3-node NATS cluster with JetStream, each routed to the other two, and PostgreSQL with synchronous commit', () => {
    const nats = ['nats-1', 'nats-2', 'nats-3'].map((n) => compose.services[n].command.join(' '));
    for (const [i, command] of nats.entries()) {
      expect(command).toContain('-js');
      const others = ['nats-1', 'nats-2', 'nats-3'].filter((_, j) => j !== i);
      for (const other of others) expect(command).toContain(`nats://${other}:6222`);
    }
    expect(compose.services.postgres.command.join(' ')).toContain('synchronous_commit=on');
    for (const url of compose.services.api.environment.NATS_URL.split(',')) expect(Object.keys(compose.services)).toContain(new URL(url).hostname);
  });

  it("builds from a Dockerfile whose sources exist, and starts the CLI entry with node's flags as npm start does", () => {
    for (const service of ['api', 'engine', 'worker']) expect(compose.services[service].build).toEqual({ context: '..', dockerfile: 'deploy/Dockerfile' });
    const dockerfile = readFileSync(deploy('Dockerfile'), 'utf8');
    for (const [, source] of dockerfile.matchAll(/^COPY (?!--from)(\S+)/gm)) expect(existsSync(join(REPO_ROOT, source!)), source).toBe(true);
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile);
    expect(cmd).not.toBeNull();
    expect(JSON.parse(cmd![1]!)).toEqual(['node', ...SERVER_NODE_FLAGS, 'bin/gavel.js', 'start']);
    expect(dockerfile).toContain('FROM node:20');
    expectOnlyOptions(image, 'Dockerfile ENV');
  });
});

describe('deploy/k8s', () => {
  const docs: Array<Record<string, any>> = [];
  for (const file of K8S_MANIFESTS) {
    for (const doc of parseAllDocuments(readFileSync(deploy('k8s', file), 'utf8'))) {
      expect(doc.errors, file).toEqual([]);
      docs.push(doc.toJS());
    }
  }
  const named = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata?.name === name);
  const configMap = named('ConfigMap', 'gavel-config')!;
  const containerOf = (deployment: string) => named('Deployment', deployment)!.spec.template.spec.containers[0];
  const envOf = (deployment: string): Record<string, string> =>
    Object.fromEntries(containerOf(deployment).env.map((e: { name: string; value: string }) => [e.name, e.value]));
  const configOf = (deployment: string): Config => loadConfig({}, { ...configMap.data, ...SECRET_VALUES, ...envOf(deployment) });
  const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
  const podLabels = (deployment: string) => named('Deployment', deployment)!.spec.template.metadata.labels;

  it('applies every manifest in deploy/k8s (no file left over from an older layout)', () => {
    expect(readdirSync(deploy('k8s')).sort()).toEqual([...K8S_MANIFESTS, ...HELM_VALUES].sort());
  });

  it('every variable in the ConfigMap and the containers is one Gavel reads; api, engine and worker parse with their roles', () => {
    for (const key of Object.keys(configMap.data)) expect(ENV_NAMES.has(key), key).toBe(true);
    const roles: Record<string, string[]> = { 'gavel-api': ['api'], 'gavel-engine': ['engine'], 'gavel-worker': ['worker'] };
    for (const [name, expected] of Object.entries(roles)) {
      const container = containerOf(name);
      for (const key of Object.keys(envOf(name))) expect(ENV_NAMES.has(key), `${name}: ${key}`).toBe(true);
      const config = configOf(name);
      expect([...config.roles], name).toEqual(expected);
      expect(config.port).toBe(container.ports[0].containerPort);
      expect(config.host).toBe('0.0.0.0');
      expect(config.natsUrl).toBeDefined();
      expect(container.readinessProbe.httpGet.path).toBe('/ready');
      expect(container.livenessProbe.httpGet.path).toBe('/up');
      expect(container.readinessProbe.httpGet.port).toBe(container.ports[0].name);
      // One lease time for the whole cluster: from the ConfigMap, overridden by no Deployment.
      expect(config.marketLeaseMs).toBe(3000);
    }
    expect(configMap.data.GAVEL_MARKET_LEASE_MS).toBe('3000');
    // The secret names the manifests document are options too.
    const hint = readFileSync(deploy('k8s', 'config.yaml'), 'utf8');
    for (const [, key] of hint.matchAll(/--from-literal=([A-Z_]+)=/g)) expect(ENV_NAMES.has(key!), key).toBe(true);
  });

  it('api: two or more, rolling updates, scaled on CPU, behind the Service the ingress points at', () => {
    const api = named('Deployment', 'gavel-api')!;
    expect(api.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(api.spec.strategy.type).toBe('RollingUpdate');
    const hpa = named('HorizontalPodAutoscaler', 'gavel-api')!;
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'gavel-api' });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
    // Utilization is a share of the request: without a CPU request the HPA cannot scale.
    expect(containerOf('gavel-api').resources.requests.cpu).toBeDefined();
    const ingress = named('Ingress', 'gavel')!;
    const backend = ingress.spec.rules[0].http.paths[0].backend.service;
    expect(backend.name).toBe('gavel-api');
    const service = named('Service', backend.name)!;
    expect(selects(service.spec.selector, podLabels('gavel-api'))).toBe(true);
    expect(selects(service.spec.selector, podLabels('gavel-engine'))).toBe(false);
    expect(selects(service.spec.selector, podLabels('gavel-worker'))).toBe(false);
    expect(service.spec.ports.map((p: { name: string }) => p.name)).toContain(backend.port.name);
    expect(containerOf('gavel-api').ports.map((p: { name: string }) => p.name)).toContain(service.spec.ports[0].targetPort);
    // Kept for caching, though no longer required.
    expect(ingress.metadata.annotations['nginx.ingress.kubernetes.io/affinity']).toBe('cookie');
  });

  it('lot images: a ReadWriteMany claim mounted on the data dir of every api pod', () => {
    const pod = named('Deployment', 'gavel-api')!.spec.template.spec;
    const mount = pod.containers[0].volumeMounts.find((m: { mountPath: string }) => m.mountPath === configOf('gavel-api').dataDir);
    expect(mount, 'a volume on the data dir').toBeDefined();
    const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
    const claim = named('PersistentVolumeClaim', volume.persistentVolumeClaim.claimName)!;
    expect(claim).toBeDefined();
    expect(claim.spec.accessModes).toEqual(['ReadWriteMany']);
  });

  it('engine: two, rolling updates, at least one kept through disruptions, and time to give its leases back', () => {
    const engine = named('Deployment', 'gavel-engine')!;
    expect(engine.spec.replicas).toBe(2);
    expect(engine.spec.strategy.type).toBe('RollingUpdate');
    const pdb = named('PodDisruptionBudget', 'gavel-engine')!;
    expect(pdb.spec.minAvailable).toBe(1);
    expect(selects(pdb.spec.selector.matchLabels, podLabels('gavel-engine'))).toBe(true);
    expect(selects(pdb.spec.selector.matchLabels, podLabels('gavel-api'))).toBe(false);
    // A graceful stop (which gives the leases back) may take the shutdown timeout; SIGKILL comes after the grace period.
    expect(engine.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(configOf('gavel-engine').shutdownTimeoutMs);
    // Engines are reached over NATS: no Service selects them.
    for (const service of docs.filter((d) => d.kind === 'Service')) expect(selects(service.spec.selector, podLabels('gavel-engine')), service.metadata.name).toBe(false);
  });

  it('workers scale on CPU; every Deployment selects its own pods', () => {
    const hpa = named('HorizontalPodAutoscaler', 'gavel-worker')!;
    expect(hpa.spec.scaleTargetRef.name).toBe('gavel-worker');
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
    for (const deployment of docs.filter((d) => d.kind === 'Deployment')) {
      expect(selects(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels), deployment.metadata.name).toBe(true);
    }
  });

  it('the Helm values give NATS three JetStream servers and PostgreSQL a synchronous standby', () => {
    const nats = parse(readFileSync(deploy('k8s', 'nats-values.yaml'), 'utf8'));
    expect(nats.config.cluster).toMatchObject({ enabled: true, replicas: 3 });
    expect(nats.config.jetstream.enabled).toBe(true);
    const pg = parse(readFileSync(deploy('k8s', 'postgresql-values.yaml'), 'utf8'));
    expect(pg.architecture).toBe('replication');
    expect(pg.primary.extendedConfiguration).toMatch(/synchronous_commit = on/);
    expect(pg.primary.extendedConfiguration).toMatch(/synchronous_standby_names = 'ANY 1/);
  });
});

describe('deploy/nginx/gavel.conf', () => {
  const conf = withoutComments(readFileSync(deploy('nginx', 'gavel.conf'), 'utf8'));

  it('balances over several api nodes with keep-alive, and upgrades /ws with sockets open for an hour', () => {
    const { servers, body } = nginxUpstream(conf, 'gavel_api');
    expect(servers.length).toBeGreaterThanOrEqual(2);
    expect(new Set(servers).size).toBe(servers.length);
    for (const server of servers) expect(server).toMatch(/^127\.0\.0\.1:\d+$/);
    // Affinity is optional now: the example leaves it off.
    expect(body).not.toMatch(/ip_hash|hash \$cookie/);
    expectProxiesWebSocketsAndKeepAlive(conf, 'gavel_api');
  });
});
