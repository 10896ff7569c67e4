package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/byod-deployer/byod-deployer/shared/deploy"
	"github.com/byod-deployer/byod-deployer/shared/status"
)

// progressWriter coalesces the engine's events into status writes: every stage change is
// written, in order; within a stage at most one write per interval, and the latest line is
// flushed when the interval has passed even if no further event comes. Writes never overlap.
type progressWriter struct {
	interval time.Duration
	write    func(status.Progress)

	mu        sync.Mutex // held during a write: writes are serialised and ordered
	stage     status.Stage
	lastWrite time.Time
	pending   *status.Progress // the latest line not yet written
	timer     *time.Timer
	gen       int // identifies the live timer; a stale timer's flush does nothing
	stopped   bool
}

func newProgressWriter(interval time.Duration, write func(status.Progress)) *progressWriter {
	return &progressWriter{interval: interval, write: write}
}

// event is the engine's Options.Progress.
func (w *progressWriter) event(ev deploy.Event) {
	p := status.Progress{Stage: status.Stage(ev.Stage), Message: ev.Message}
	if ev.Total > 0 {
		p.Message = fmt.Sprintf("%s (%d/%d)", ev.Message, ev.Done, ev.Total)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	if p.Stage != w.stage || time.Since(w.lastWrite) >= w.interval {
		w.stage = p.Stage
		w.writeLocked(p)
		return
	}
	w.pending = &p
	if w.timer == nil {
		w.gen++
		gen := w.gen
		w.timer = time.AfterFunc(w.interval-time.Since(w.lastWrite), func() { w.flush(gen) })
	}
}

// flush writes the pending line, if any, unless its timer was replaced or stopped meanwhile.
func (w *progressWriter) flush(gen int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if gen != w.gen || w.timer == nil {
		return
	}
	w.timer = nil
	if w.pending != nil && !w.stopped {
		w.writeLocked(*w.pending)
	}
}

func (w *progressWriter) writeLocked(p status.Progress) {
	w.pending = nil
	w.stopTimer()
	w.write(p)
	w.lastWrite = time.Now()
}

// stop drops any pending line (the outcome write supersedes it), waits for a write in flight and
// returns the last stage seen.
func (w *progressWriter) stop() status.Stage {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.pending = nil
	w.stopTimer()
	return w.stage
}

func (w *progressWriter) stopTimer() {
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}
