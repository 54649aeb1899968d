// A stand-in Kubernetes API server for tests: just enough of the API for
// `kubectl version` and `kubectl get pods` (discovery of the core group, one
// pod in "default"), behind bearer authentication as a cluster that accepts
// OIDC tokens does. Every request's Authorization header is recorded.
//
// HTTPS with a throwaway self-signed certificate (openssl): kubectl never runs
// an exec credential plugin for a plain-HTTP server.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';

/** The one pod every namespace list answers with. */
export const POD_NAME = 'hello-latchkey';

const json = (res, status, body) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

const status401 = {
  kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401,
};

const pod = {
  kind: 'Pod', apiVersion: 'v1',
  metadata: { name: POD_NAME, namespace: 'default', uid: '7c1d4a10-0000-4000-8000-000000000001', creationTimestamp: '2026-12-01T10:00:00Z' },
  spec: { containers: [{ name: 'main', image: 'example.test/hello:1' }] },
  status: { phase: 'Running' },
};

/** What the server answers per path (GET only), or null for 404. */
function answer(path, accept) {
  if (path === '/version') {
    return { major: '1', minor: '32', gitVersion: 'v1.32.0-latchkey-test', platform: 'linux/amd64' };
  }
  if (path === '/api') {
    return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
  }
  if (path === '/apis') return { kind: 'APIGroupList', apiVersion: 'v1', groups: [] };
  if (path === '/api/v1') {
    return {
      kind: 'APIResourceList', groupVersion: 'v1',
      resources: [{ name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] }],
    };
  }
  if (/^\/api\/v1\/namespaces\/[^/]+\/pods$/.test(path)) {
    // kubectl asks for a server-side Table first; a plain list is the fallback.
    if (/as=Table/.test(accept)) {
      return {
        kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: '1' },
        columnDefinitions: [
          { name: 'Name', type: 'string', format: 'name', description: 'Name', priority: 0 },
          { name: 'Status', type: 'string', format: '', description: 'Phase', priority: 0 },
        ],
        rows: [{ cells: [POD_NAME, 'Running'], object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: pod.metadata } }],
      };
    }
    return { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [pod] };
  }
  return null;
}

/** A self-signed certificate for 127.0.0.1, made in `dir`: { key, cert } (PEM). */
function selfSigned(dir) {
  const key = join(dir, 'kube-server.key');
  const cert = join(dir, 'kube-server.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'pipe' });
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

/**
 * Serves HTTPS on 127.0.0.1 with a certificate made in `dir`.
 * `authorize(token)` resolves to whether a bearer token is accepted.
 * Resolves to { url, ca (the certificate, PEM), requests: [{ method, path,
 * authorization }], refused(), stop() }.
 */
export function startKubeServer({ dir, authorize }) {
  const requests = [];
  let refused = 0;
  const tls = selfSigned(dir);
  const server = createServer(tls, (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const authorization = req.headers.authorization ?? null;
    requests.push({ method: req.method, path: url.pathname, authorization });
    const [, token] = (authorization ?? '').match(/^Bearer (\S+)$/) ?? [];
    Promise.resolve(token ? authorize(token) : false).then((ok) => {
      if (!ok) {
        refused += 1;
        json(res, 401, status401);
        return;
      }
      const body = req.method === 'GET' ? answer(url.pathname, req.headers.accept ?? '') : null;
      if (!body) {
        json(res, 404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404 });
        return;
      }
      json(res, 200, body);
    }, (err) => json(res, 500, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: String(err), code: 500 }));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `https://127.0.0.1:${port}`,
        ca: tls.cert,
        requests,
        refused: () => refused,
        stop: () => new Promise((done) => {
          server.close(done);
          server.closeAllConnections();
        }),
      });
    });
  });
}
