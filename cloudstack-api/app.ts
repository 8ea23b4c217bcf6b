import express, { type Express, type Request, type Response } from 'express';
import { type ApiDependencies, type ApiResponse, createRequestHandler } from './dispatch.ts';

/** Headers carry Latin-1 without line breaks; an error text may hold anything. */
function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

function send(res: Response, reply: ApiResponse): void {
  res.status(reply.status);
  res.setHeader('Content-Type', reply.contentType);
  if (reply.setCookies.length > 0) res.setHeader('Set-Cookie', [...reply.setCookies]);
  if (reply.description !== undefined) res.setHeader('X-Description', headerSafe(reply.description));
  res.end(reply.body);
}

/**
 * The CloudStack API as an express app: `/client/api`, GET (query string) and POST
 * (form body), handled identically. Authentication, sessions and the command table are
 * injected (see ApiDependencies), so the Kubernetes-backed parts plug in from outside.
 */
export function createApiApp(deps: ApiDependencies): Express {
  const handle = createRequestHandler(deps);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const route = async (req: Request, res: Response): Promise<void> => {
    const url = req.originalUrl;
    const question = url.indexOf('?');
    const reply = await handle({
      method: req.method,
      queryString: question < 0 ? '' : url.slice(question + 1),
      formBody: typeof req.body === 'string' ? req.body : '',
      cookieHeader: req.headers.cookie,
    });
    send(res, reply);
  };

  app.get('/client/api', route);
  app.post('/client/api', express.text({ type: 'application/x-www-form-urlencoded', limit: '1mb', defaultCharset: 'utf-8' }), route);
  return app;
}
