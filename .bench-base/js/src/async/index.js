export { Connection, handleAsync, open } from './connection.js';
