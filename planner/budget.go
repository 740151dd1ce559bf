package planner

import "context"

// budget bounds the time one request may spend planning: binding stops
// once its context has ended. The context is looked at every 1024th
// spent call, so the check costs little more than an increment in the
// binder's loops; a nil budget never ends.
type budget struct {
	ctx  context.Context
	n    uint32
	done bool
}

// spent reports whether planning must stop.
func (b *budget) spent() bool {
	if b == nil || b.ctx == nil {
		return false
	}
	if !b.done {
		if b.n++; b.n&1023 == 0 && b.ctx.Err() != nil {
			b.done = true
		}
	}
	return b.done
}

// ended reports whether the context has ended, looking at it now.
func (b *budget) ended() bool {
	if b == nil || b.ctx == nil {
		return false
	}
	if b.ctx.Err() != nil {
		b.done = true
	}
	return b.done
}
