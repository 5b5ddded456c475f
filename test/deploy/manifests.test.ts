// The deployment files (deploy/) against the code they deploy: every variable they set is an
// option Gavel reads and parses, the roles exist, probes and ports match what a node serves,
// and the pieces of each manifest point at each other. No Docker or Kubernetes runs here; this
// keeps the files from drifting away from the code.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { OPTIONS, loadConfig } from '../../src/platform/config.js';
import { REPO_ROOT } from '../support/process.js';

const deploy = (...p: string[]) => join(REPO_ROOT, 'deploy', ...p);
const ENV_NAMES = new Set(OPTIONS.map((o) => o.env));
// Read by the container image or Node itself, not by Gavel's options.
const PLATFORM_ENV = new Set(['NODE_ENV']);

/** Placeholders for what the manifests leave to secrets, so the config can be parsed. */
const SECRET_VALUES: Record<string, string> = {
  DATABASE_URL: 'postgres://gavel:secret@db-primary:5432,db-standby:5432/gavel',
  DATABASE_REPLICA_URLS: 'postgres://gavel:secret@db-read:5432/gavel',
  GAVEL_PAYMENTS_WEBHOOK_SECRET: 'a-secret-of-at-least-16-chars',
  GAVEL_ADMIN_EMAIL: 'admin@gavel.example',
  GAVEL_ADMIN_PASSWORD: 'a long admin password',
};

function k8sDocs(): Array<Record<string, any>> {
  const docs: Array<Record<string, any>> = [];
  for (const file of ['config.yaml', 'core.yaml', 'worker.yaml', 'ingress.yaml']) {
    for (const doc of parseAllDocuments(readFileSync(deploy('k8s', file), 'utf8'))) {
      expect(doc.errors, file).toEqual([]);
      docs.push(doc.toJS());
    }
  }
  return docs;
}

describe('deploy/docker-compose.yml', () => {
  const compose = parse(readFileSync(deploy('docker-compose.yml'), 'utf8'), { merge: true });

  it('sets only variables Gavel reads, and a node parses them with each role', () => {
    for (const name of ['core', 'worker']) {
      const env: Record<string, string> = compose.services[name].environment;
      for (const key of Object.keys(env)) expect(ENV_NAMES.has(key) || PLATFORM_ENV.has(key), `${name}: ${key}`).toBe(true);
      const config = loadConfig({}, { ...env });
      expect(config.databaseUrl).toMatch(/^postgres:\/\/.*@postgres:5432\/gavel$/);
      expect(config.natsUrl?.split(',')).toHaveLength(3);
      expect(config.natsReplicas).toBe(3);
      expect([...config.roles].sort()).toEqual(name === 'core' ? ['api', 'engine'] : ['worker']);
    }
  });

  it('runs a 3-node NATS cluster with JetStream, each routed to the other two, and PostgreSQL with synchronous commit', () => {
    const nats = ['nats-1', 'nats-2', 'nats-3'].map((n) => compose.services[n].command.join(' '));
    for (const [i, command] of nats.entries()) {
      expect(command).toContain('-js');
      const others = ['nats-1', 'nats-2', 'nats-3'].filter((_, j) => j !== i);
      for (const other of others) expect(command).toContain(`nats://${other}:6222`);
    }
    expect(compose.services.postgres.command.join(' ')).toContain('synchronous_commit=on');
    for (const url of compose.services.core.environment.NATS_URL.split(',')) expect(Object.keys(compose.services)).toContain(new URL(url).hostname);
  });

  it('builds from a Dockerfile whose sources exist, and starts the CLI entry', () => {
    expect(compose.services.core.build).toEqual({ context: '..', dockerfile: 'deploy/Dockerfile' });
    const dockerfile = readFileSync(deploy('Dockerfile'), 'utf8');
    for (const [, source] of dockerfile.matchAll(/^COPY (?!--from)(\S+)/gm)) expect(existsSync(join(REPO_ROOT, source!)), source).toBe(true);
    expect(dockerfile).toMatch(/CMD \["node", "bin\/gavel\.js", "start"\]/);
    expect(dockerfile).toContain('FROM node:20');
  });
});

describe('deploy/k8s', () => {
  const docs = k8sDocs();
  const named = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata?.name === name);

  it('every variable in the ConfigMap and the containers is one Gavel reads, and the core and worker configs parse', () => {
    const configMap = named('ConfigMap', 'gavel-config')!;
    for (const key of Object.keys(configMap.data)) expect(ENV_NAMES.has(key), key).toBe(true);
    for (const name of ['gavel-core', 'gavel-worker']) {
      const container = named('Deployment', name)!.spec.template.spec.containers[0];
      const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
      for (const key of Object.keys(env)) expect(ENV_NAMES.has(key), `${name}: ${key}`).toBe(true);
      const config = loadConfig({}, { ...configMap.data, ...SECRET_VALUES, ...env });
      expect(config.port).toBe(container.ports[0].containerPort);
      expect(config.host).toBe('0.0.0.0');
      expect(container.readinessProbe.httpGet.path).toBe('/ready');
      expect(container.livenessProbe.httpGet.path).toBe('/up');
    }
    // The secret names the manifests document are options too.
    const hint = readFileSync(deploy('k8s', 'config.yaml'), 'utf8');
    for (const [, key] of hint.matchAll(/--from-literal=([A-Z_]+)=/g)) expect(ENV_NAMES.has(key!), key).toBe(true);
  });

  it('the single writer runs once (Recreate); workers scale on CPU; services and the ingress reach the pods', () => {
    const core = named('Deployment', 'gavel-core')!;
    expect(core.spec.replicas).toBe(1);
    expect(core.spec.strategy.type).toBe('Recreate');
    const hpa = named('HorizontalPodAutoscaler', 'gavel-worker')!;
    expect(named('Deployment', hpa.spec.scaleTargetRef.name)).toBeDefined();
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
    const service = named('Service', 'gavel-core')!;
    expect(core.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    const backend = named('Ingress', 'gavel')!.spec.rules[0].http.paths[0].backend.service;
    expect(named('Service', backend.name)).toBeDefined();
    expect(named('Ingress', 'gavel')!.metadata.annotations['nginx.ingress.kubernetes.io/affinity']).toBe('cookie');
    const claim = core.spec.template.spec.volumes[0].persistentVolumeClaim.claimName;
    expect(named('PersistentVolumeClaim', claim)).toBeDefined();
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
  it('upgrades /ws, keeps sockets open for an hour and forwards to the node port', () => {
    const conf = readFileSync(deploy('nginx', 'gavel.conf'), 'utf8');
    const ws = conf.slice(conf.indexOf('location /ws'), conf.indexOf('}', conf.indexOf('location /ws')));
    expect(ws).toContain('proxy_set_header Upgrade $http_upgrade');
    expect(ws).toContain('proxy_set_header Connection $connection_upgrade');
    expect(ws).toMatch(/proxy_read_timeout 3600s/);
    expect(conf).toMatch(/server 127\.0\.0\.1:8080/);
  });
});
