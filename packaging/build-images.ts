/** `npm run image`: builds the images into OCI archives (or finds them in the cache) and prints where they are. */
import { log } from '../lib/log.ts';
import { buildImages } from './images.ts';

const started = Date.now();
const images = await buildImages({ logger: log });
process.stdout.write(`${JSON.stringify({ ...images, seconds: Math.round((Date.now() - started) / 1000) }, null, 2)}\n`);
