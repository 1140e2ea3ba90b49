/**
 * The key-value commands of the "write your first protocol" guide, shared by the state-machine
 * and the async versions: parse one line, apply it, return the reply line.
 */
/** Longest accepted line, in bytes (without the LF). */
export const MAX_LINE = 4096;
/** Applies one command line (`SET k v`, `GET k`, `DEL k`, `QUIT`) to `store`. */
export function apply(store, line) {
    const [command = '', key, ...rest] = line.trim().split(' ');
    switch (command.toUpperCase()) {
        case 'SET':
            if (key === undefined || rest.length === 0)
                return { reply: 'ERROR usage: SET key value\n', close: false };
            store.set(key, rest.join(' '));
            return { reply: 'OK\n', close: false };
        case 'GET': {
            const value = key === undefined ? undefined : store.get(key);
            return { reply: value === undefined ? 'NOT_FOUND\n' : `VALUE ${value}\n`, close: false };
        }
        case 'DEL':
            return { reply: key !== undefined && store.delete(key) ? 'DELETED\n' : 'NOT_FOUND\n', close: false };
        case 'QUIT':
            return { reply: 'BYE\n', close: true };
        default:
            return { reply: 'ERROR unknown command\n', close: false };
    }
}
