package secret

import (
	"context"
	"fmt"
	"log/slog"
)

// LogHandler returns a slog.Handler that writes through h with every
// secret masked (MaskText) in the message and in every attribute: string
// values, errors and anything else that prints as text. A server wraps its
// logger with it, so no log line carries a password from an error message
// of a driver or a connection string.
func LogHandler(h slog.Handler) slog.Handler {
	if m, ok := h.(maskHandler); ok {
		return m
	}
	return maskHandler{h}
}

type maskHandler struct{ next slog.Handler }

func (m maskHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return m.next.Enabled(ctx, l)
}

func (m maskHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, MaskText(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(maskAttr(a))
		return true
	})
	return m.next.Handle(ctx, out)
}

func (m maskHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = maskAttr(a)
	}
	return maskHandler{m.next.WithAttrs(masked)}
}

func (m maskHandler) WithGroup(name string) slog.Handler {
	return maskHandler{m.next.WithGroup(name)}
}

func maskAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, MaskText(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, x := range g {
			out[i] = maskAttr(x)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, MaskText(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, MaskText(x.String()))
		case []byte:
			return slog.String(a.Key, MaskText(string(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
