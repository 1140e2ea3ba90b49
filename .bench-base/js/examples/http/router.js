/** Routes by exact path, then method; HEAD is served by the GET handler (the server drops the body). */
export class Router {
    /** path → method → handler. */
    #routes = new Map();
    /** Adds a handler for `method` on `path` (exact match, no query). */
    route(method, path, handler) {
        let methods = this.#routes.get(path);
        if (methods === undefined) {
            methods = new Map();
            this.#routes.set(path, methods);
        }
        methods.set(method, handler);
        return this;
    }
    get(path, handler) {
        return this.route('GET', path, handler);
    }
    post(path, handler) {
        return this.route('POST', path, handler);
    }
    /** The router as one {@link Handler}: 404 for an unknown path, 405 (with Allow) for an unknown method. */
    handle = (request) => {
        const methods = this.#routes.get(request.path);
        if (methods === undefined)
            return { status: 404, headers: TEXT, body: 'not found\n' };
        const handler = methods.get(request.method) ?? (request.method === 'HEAD' ? methods.get('GET') : undefined);
        if (handler === undefined) {
            const allow = [...methods.keys(), ...(methods.has('GET') ? ['HEAD'] : [])].join(', ');
            return { status: 405, headers: { ...TEXT, Allow: allow }, body: 'method not allowed\n' };
        }
        return handler(request);
    };
}
const TEXT = { 'Content-Type': 'text/plain; charset=utf-8' };
