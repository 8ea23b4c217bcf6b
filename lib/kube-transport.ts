/**
 * How the kube client's requests travel: one shared HTTP/1.1 undici dispatcher for the
 * kubeconfig's own credentials (requests and watches), a counting wrapper for
 * rest_client_requests_total, node:http for impersonation (one Impersonate-Group line per
 * group), and client-node's Watch with an idle timeout that outlasts the apiserver's bookmarks.
 */
import * as k8s from '@kubernetes/client-node';
import * as http from 'node:http';
import * as https from 'node:https';
import { Agent, type Dispatcher } from 'undici';
import type { Identity } from './identity.ts';
import type { RequestObserver } from './kube-types.ts';

/**
 * The dispatcher of a kube client: built from client-node's own options for the kubeconfig
 * (its CA, client certificate, keep-alive), but speaking HTTP/1.1 only.
 *
 * Why not HTTP/2: undici 8 offers it by default (allowH2) and the apiserver accepts it, and
 * since nodejs/undici#5406 undici reaps an HTTP/2 session idle for keepAliveTimeout (4 s) by
 * destroying its socket with InformationalError('socket idle timeout'). Under load (seen in
 * test/integration/planner.test.ts) a request failed with that error ("fetch failed") and the
 * same error escaped as an uncaught exception: in an operator, a crash or a failed reconcile
 * for nothing. undici 8's HTTP/2 client is young (its session teardown races are still being
 * fixed upstream); its HTTP/1.1 client and keep-alive are the long-proven path, and what
 * client-node spoke before undici 8. undici closes an idle HTTP/1.1 connection after 4 s, long
 * before the apiserver would (90 s, measured), so no request is sent on a closing connection.
 * Behind a proxy the dispatcher stays client-node's (a SOCKS tunnel offers no ALPN, so it is
 * HTTP/1.1 already).
 */
async function http1Dispatcher(kc: k8s.KubeConfig, clientNodes: Dispatcher | undefined): Promise<Dispatcher | undefined> {
  const tls: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = tls;
  const options = kc.createDispatcherOptions(kc.getCurrentCluster(), { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername });
  switch (options.type) {
    case 'agent':
      return new Agent({ connect: options.connect, allowH2: false });
    case 'none':
      return new Agent({ allowH2: false });
    default:
      return clientNodes;
  }
}

/**
 * Wraps the KubeConfig's authentication so that every request (and watch) shares one
 * dispatcher, HTTP/1.1 only (see http1Dispatcher): client-node builds a new Agent (a new TLS
 * connection, HTTP/2 if the server offers it) per request otherwise.
 */
export function sharedDispatcherAuth(kc: k8s.KubeConfig): k8s.SecurityAuthentication {
  let shared: Promise<Dispatcher | undefined> | undefined;
  return {
    getName: () => 'kumulus-shared-dispatcher',
    applySecurityAuthentication: async (context: k8s.RequestContext) => {
      await kc.applySecurityAuthentication(context);
      const fresh = context.getDispatcher();
      // A failure (an exec credential plugin, say) is not kept: the next request tries again.
      shared ??= http1Dispatcher(kc, fresh).catch((err: unknown) => {
        shared = undefined;
        throw err;
      });
      const dispatcher = await shared;
      if (dispatcher !== fresh) void fresh?.close();
      if (dispatcher) context.setDispatcher(dispatcher);
    },
  };
}

export function countingHttp(observe: RequestObserver | undefined): k8s.HttpLibrary {
  const inner = new k8s.IsomorphicFetchHttpLibrary();
  if (!observe) return inner;
  return {
    send(request) {
      const method = request.getHttpMethod().toString();
      return new k8s.Observable(
          inner
            .send(request)
            .toPromise()
            .then(
              (response) => {
                observe(method, String(response.httpStatusCode));
                return response;
              },
              (err: unknown) => {
                observe(method, '<error>');
                throw err;
              },
            ),
      );
    },
  };
}

/**
 * How long an impersonating client keeps an idle connection: like undici's keep-alive (4 s),
 * far below the apiserver's 90 s. node:http keeps an idle keep-alive socket until the server
 * closes it otherwise, and a request written as that close arrives fails with ECONNRESET.
 */
export const IDLE_CONNECTION_TIMEOUT_MS = 4_000;

/** The keep-alive connections of impersonating clients (see impersonatingHttp). */
export function impersonationPool(): { http: http.Agent; https: https.Agent } {
  // An Agent's timeout closes a free socket; on a busy one it only emits 'timeout', unheard.
  const options = { keepAlive: true, timeout: IDLE_CONNECTION_TIMEOUT_MS };
  return { http: new http.Agent(options), https: new https.Agent(options) };
}

/**
 * The transport of impersonating clients. The apiserver reads each group from its own
 * Impersonate-Group header line, and fetch (undici) folds repeated headers into one
 * comma-joined line, which would read as one group named "a, b"; node:http sends an array
 * value as separate lines. The kubeconfig's credentials (client certificate, bearer token,
 * exec plugin) are applied per request, as for the main client.
 */
export function impersonatingHttp(kc: k8s.KubeConfig, identity: Identity, pool: { http: http.Agent; https: https.Agent }, observe: RequestObserver | undefined): k8s.HttpLibrary {
  return {
    send(request) {
      const method = request.getHttpMethod().toString();
      const sent = (async () => {
        const tls: https.RequestOptions = {};
        await kc.applyToHTTPSOptions(tls);
        const url = new URL(request.getUrl());
        const secure = url.protocol === 'https:';
        const headers: http.OutgoingHttpHeaders = { ...(tls.headers as http.OutgoingHttpHeaders | undefined), ...request.getHeaders() };
        headers['Impersonate-User'] = identity.user;
        if (identity.groups.length > 0) headers['Impersonate-Group'] = [...identity.groups];
        const raw = request.getBody();
        if (raw !== undefined && typeof raw !== 'string' && !(raw instanceof URLSearchParams)) {
          throw new Error('an impersonating client sends JSON and form bodies only, not multipart');
        }
        const body = raw === undefined ? undefined : Buffer.from(raw.toString(), 'utf8');
        // node:http sends a DELETE body neither chunked nor with a length unless told its length.
        if (body !== undefined) headers['Content-Length'] = body.length;
        return new Promise<k8s.ResponseContext>((resolve, reject) => {
          const req = (secure ? https : http).request(
            url,
            {
              method,
              headers,
              agent: secure ? pool.https : pool.http,
              ca: tls.ca,
              cert: tls.cert,
              key: tls.key,
              pfx: tls.pfx,
              passphrase: tls.passphrase,
              servername: tls.servername,
              rejectUnauthorized: tls.rejectUnauthorized,
              auth: tls.auth,
              signal: request.getSignal(),
            },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (chunk: Buffer) => chunks.push(chunk));
              res.on('error', reject);
              res.on('end', () => {
                const data = Buffer.concat(chunks);
                const responseHeaders: Record<string, string> = {};
                for (const [name, value] of Object.entries(res.headers)) {
                  if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
                }
                resolve(new k8s.ResponseContext(res.statusCode ?? 0, responseHeaders, new k8s.SelfDecodingBody(Promise.resolve(data))));
              });
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      })();
      return new k8s.Observable(
        sent.then(
          (response) => {
            observe?.(method, String(response.httpStatusCode));
            return response;
          },
          (err: unknown) => {
            observe?.(method, '<error>');
            throw err;
          },
        ),
      );
    },
  };
}

export const noAuthentication: k8s.SecurityAuthentication = {
  getName: () => 'kumulus-impersonating',
  applySecurityAuthentication: () => Promise.resolve(),
};

/**
 * The apiserver sends a bookmark about once a minute on an idle watch; a longer silence means
 * a dead connection, which the informer then resumes from its resourceVersion. client-node's
 * 30 s default would cut idle watches.
 */
export const WATCH_IDLE_TIMEOUT_MS = 150_000;

/**
 * client-node's Watch with an idle timeout. Watch has no option for it: its private field
 * requestTimeoutMs is read per watch. @kubernetes/client-node is pinned in package.json, and
 * test/integration/kube-client-watch.test.ts fails if the field stops being honoured; this
 * refuses to start if it is gone, rather than let watches be cut every 30 s.
 */
export function watchWithIdleTimeout(kc: k8s.KubeConfig, auth: k8s.SecurityAuthentication, idleTimeoutMs = WATCH_IDLE_TIMEOUT_MS): k8s.Watch {
  // Watch reads the cluster from its KubeConfig and has it authenticate each watch, which builds
  // a new HTTP/2-capable Agent per watch: this KubeConfig is kc, except that it authenticates
  // through `auth`, so watches travel on the client's shared HTTP/1.1 dispatcher.
  const config = Object.assign(Object.create(kc) as k8s.KubeConfig, {
    applySecurityAuthentication: (context: k8s.RequestContext) => auth.applySecurityAuthentication(context),
  });
  const watcher = new k8s.Watch(config);
  const fields = watcher as unknown as { requestTimeoutMs?: unknown };
  if (typeof fields.requestTimeoutMs !== 'number') {
    throw new Error('@kubernetes/client-node Watch no longer has requestTimeoutMs: keep the version pinned in package.json, or give the watch its idle timeout another way');
  }
  fields.requestTimeoutMs = idleTimeoutMs;
  return watcher;
}
