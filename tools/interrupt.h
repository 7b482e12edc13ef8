/*
 * interrupt — SIGINT and SIGTERM end `siglog append`'s input, not the
 * process: the command then appends what it has read, syncs, prints the
 * remaining acknowledgements and exits 128 + the signal's number.
 *
 * The handler records the signal and puts /dev/null in place of the input
 * descriptor (dup2 is async-signal-safe), so from then on the input reads
 * as its end, even for a read already blocked on a pipe or terminal (it
 * returns EINTR, the handler being installed without SA_RESTART, and the
 * retry reads /dev/null). For that the signal must reach the reading
 * thread: block the signals (interrupt_hold) before any other thread is
 * started — the store's background thread, the ack printer — and release
 * them in the reading thread afterwards, and they inherit the mask.
 */
#ifndef SIGLOG_INTERRUPT_H
#define SIGLOG_INTERRUPT_H

/* Install the handlers for input_fd with both signals held. 0, or -1
 * with errno. */
int interrupt_install(int input_fd);
/* Deliver the signals to the calling thread from now on. */
void interrupt_release(void);
/* 0, or the number of the first signal caught. */
int interrupt_caught(void);

#endif
