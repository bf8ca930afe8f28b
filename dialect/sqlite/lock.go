package sqlite

import (
	"context"
	"sync"
)

// keyedMutex is a process-wide set of exclusive locks by name, each a one-slot channel so that a
// waiter can give up when its context ends. Entries are removed when nobody holds or waits for them.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{}
	refs int // holders and waiters
}

var processLocks = &keyedMutex{locks: map[string]*keyLock{}}

// lock blocks until name is free or ctx ends.
func (m *keyedMutex) lock(ctx context.Context, name string) error {
	m.mu.Lock()
	l := m.locks[name]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		m.locks[name] = l
	}
	l.refs++
	m.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		m.release(name, l, false)
		return ctx.Err()
	}
}

// unlock frees name, which the caller holds.
func (m *keyedMutex) unlock(name string) {
	m.mu.Lock()
	l := m.locks[name]
	m.mu.Unlock()
	if l != nil {
		m.release(name, l, true)
	}
}

func (m *keyedMutex) release(name string, l *keyLock, held bool) {
	if held {
		<-l.ch
	}
	m.mu.Lock()
	l.refs--
	if l.refs == 0 {
		delete(m.locks, name)
	}
	m.mu.Unlock()
}
