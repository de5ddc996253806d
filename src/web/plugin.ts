import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { App } from '../context.ts';

/** A capability's routes: a Fastify plugin given the App, whose route schemas are zod schemas. */
export type HavenRoutes = FastifyPluginAsyncZod<{ app: App }>;
