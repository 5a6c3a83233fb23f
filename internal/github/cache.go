package github

import (
	"container/list"
	"sync"
)

// lru is a cache bounded by the total size of its values, which the caller
// estimates in bytes; the least recently used values go first. Its methods
// may be called from any goroutine.
type lru[V any] struct {
	mu    sync.Mutex
	max   int
	size  int
	order *list.List // of *lruEntry[V], most recently used first
	items map[string]*list.Element
}

type lruEntry[V any] struct {
	key  string
	val  V
	size int
}

func newLRU[V any](maxBytes int) *lru[V] {
	return &lru[V]{max: maxBytes, order: list.New(), items: map[string]*list.Element{}}
}

func (c *lru[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry[V]).val, true
}

// add stores a value, replacing any under the same key. A value larger than
// an eighth of the cache is not kept: it would evict most of the others.
func (c *lru[V]) add(key string, val V, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.remove(e)
	}
	if size > c.max/8 {
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry[V]{key: key, val: val, size: size})
	c.size += size
	for c.size > c.max {
		c.remove(c.order.Back())
	}
}

func (c *lru[V]) remove(e *list.Element) {
	entry := c.order.Remove(e).(*lruEntry[V])
	delete(c.items, entry.key)
	c.size -= entry.size
}
