/**
 * The engine with no socket under it, for the micro-benchmarks: writes are counted and dropped
 * (and complete at once), reads are fed by hand, timers are never armed. Socket costs are left
 * out on purpose: they are the same for every implementation and hide what the protocol spends.
 */
import { Engine } from '../../src/engine.js';
export class NullEngine extends Engine {
    remoteAddress = undefined;
    remotePort = undefined;
    localAddress = undefined;
    localPort = undefined;
    /** Bytes written so far. */
    written = 0;
    /** Times reading was switched on or off (each is a socket pause()/resume() on a real stream). */
    readingSwitches = 0;
    #reading = false;
    /** Run wakeups in a microtask, as a Stream does; otherwise only `wake()` runs them. */
    #microtaskWakeups;
    constructor(options = {}) {
        super();
        this.#microtaskWakeups = options.microtaskWakeups ?? false;
    }
    clock() {
        return performance.now();
    }
    ioWrite(data) {
        this.written += data.length;
        return 0;
    }
    ioUnwritten() {
        return 0;
    }
    ioSetReading(on) {
        if (on !== this.#reading)
            this.readingSwitches++;
        this.#reading = on;
    }
    ioArmTimer() { }
    ioScheduleWakeup() {
        if (this.#microtaskWakeups)
            queueMicrotask(() => this.onWakeup());
    }
    ioHalfClose() { }
    ioFinish() { }
    ioDestroy() { }
    ioReportError() { }
    begin(factory) {
        this.start(factory, undefined);
    }
    feed(chunk) {
        this.onData(chunk);
    }
    /** What the wakeup microtask does, run now. */
    wake() {
        this.notifier()();
        this.onWakeup();
    }
}
