package planner

import (
	"testing"
	"time"

	"github.com/sluice-sql/sluice/planner/dag"
)

func TestSuperType(t *testing.T) {
	d64 := func(p uint8) dag.Type { return dag.Type{Kind: dag.DateTime64, Precision: p} }
	dec := func(p, s uint8) dag.Type { return dag.Type{Kind: dag.Decimal, Precision: p, Scale: s} }
	for _, tc := range []struct {
		a, b dag.Type
		want string // "" when there is none
	}{
		{dag.T(dag.Int8), dag.T(dag.Int32), "Int32"},
		{dag.T(dag.UInt8), dag.T(dag.UInt64), "UInt64"},
		{dag.T(dag.UInt8), dag.T(dag.Int8), "Int16"},
		{dag.T(dag.UInt32), dag.T(dag.Int16), "Int64"},
		{dag.T(dag.UInt16), dag.T(dag.Int64), "Int64"},
		{dag.T(dag.UInt64), dag.T(dag.Int8), ""},
		{dag.T(dag.Int32), dag.T(dag.Float32), "Float64"},
		{dag.T(dag.Float32), dag.T(dag.Float32), "Float32"},
		{dag.T(dag.Float32), dag.T(dag.Float64), "Float64"},
		{dec(10, 2), dag.T(dag.Int32), "Decimal(18, 2)"},
		{dec(10, 2), dec(12, 4), "Decimal(12, 4)"},
		{dec(10, 2), dag.T(dag.Float64), "Float64"},
		{dag.T(dag.Date), dag.T(dag.DateTime), "DateTime"},
		{dag.T(dag.DateTime), d64(3), "DateTime64(3)"},
		{d64(6), d64(3), "DateTime64(6)"},
		{dag.T(dag.String), dag.T(dag.UInt64), ""},
		{dag.T(dag.Bool), dag.T(dag.Int8), ""},
		{dag.T(dag.String).WithNull(true), dag.T(dag.String), "Nullable(String)"},
		{dag.T(dag.Null).WithNull(true), dag.T(dag.Int8), "Nullable(Int8)"},
	} {
		got, ok := superType(tc.a, tc.b)
		gotS := ""
		if ok {
			gotS = got.String()
		}
		if gotS != tc.want {
			t.Errorf("superType(%s, %s) = %q, want %q", tc.a, tc.b, gotS, tc.want)
		}
		// The supertype does not depend on the order of its arguments.
		got2, ok2 := superType(tc.b, tc.a)
		if ok != ok2 || (ok && got2 != got) {
			t.Errorf("superType(%s, %s) = %s, but swapped %s", tc.a, tc.b, got, got2)
		}
	}
}

func TestAssignable(t *testing.T) {
	for _, tc := range []struct {
		from, to dag.Type
		want     bool
	}{
		{dag.T(dag.Int32), dag.T(dag.Float64), true},
		{dag.T(dag.Int32), dag.T(dag.Int64), true},
		{dag.T(dag.Int64), dag.T(dag.Int32), false},
		{dag.T(dag.Float64), dag.T(dag.Float32), false},
		{dag.T(dag.String), dag.T(dag.UInt64), false},
		{dag.T(dag.DateTime), dag.Timestamp, true},
		{dag.Timestamp, dag.T(dag.DateTime), false},
		{dag.T(dag.Null), dag.T(dag.Date), true},
	} {
		if got := assignable(tc.from, tc.to); got != tc.want {
			t.Errorf("assignable(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestConvertConst(t *testing.T) {
	ts := time.Date(2024, 3, 1, 10, 0, 5, 123456789, time.UTC)
	for _, tc := range []struct {
		name     string
		v        dag.Value
		from, to dag.Type
		want     dag.Value
		fails    bool
	}{
		{"uint to int", dag.Value{U: 200}, dag.T(dag.UInt8), dag.T(dag.Int64), dag.Value{I: 200}, false},
		{"uint overflows int8", dag.Value{U: 200}, dag.T(dag.UInt8), dag.T(dag.Int8), dag.Value{}, true},
		{"negative to unsigned", dag.Value{I: -1}, dag.T(dag.Int8), dag.T(dag.UInt64), dag.Value{}, true},
		{"int to decimal", dag.Value{U: 12}, dag.T(dag.UInt8), dag.Type{Kind: dag.Decimal, Precision: 10, Scale: 2}, dag.Value{I: 1200}, false},
		{"float to decimal exact", dag.Value{F: 1.25}, dag.T(dag.Float64), dag.Type{Kind: dag.Decimal, Precision: 10, Scale: 2}, dag.Value{I: 125}, false},
		{"float to decimal inexact", dag.Value{F: 1.255}, dag.T(dag.Float64), dag.Type{Kind: dag.Decimal, Precision: 10, Scale: 2}, dag.Value{}, true},
		{"decimal too wide", dag.Value{U: 1e9}, dag.T(dag.UInt32), dag.Type{Kind: dag.Decimal, Precision: 10, Scale: 2}, dag.Value{}, true},
		{"time string ms", dag.Value{S: "2024-03-01 10:00:05.123456789"}, dag.T(dag.String), dag.Timestamp, dag.Value{I: ts.Truncate(time.Millisecond).UnixNano()}, false},
		{"time string seconds", dag.Value{S: "2024-03-01T10:00:05.9Z"}, dag.T(dag.String), dag.T(dag.DateTime), dag.Value{I: ts.Truncate(time.Second).UnixNano()}, false},
		{"time string zone", dag.Value{S: "2024-03-01T12:00:05+02:00"}, dag.T(dag.String), dag.T(dag.DateTime), dag.Value{I: ts.Truncate(time.Second).UnixNano()}, false},
		{"date string", dag.Value{S: "2024-03-01"}, dag.T(dag.String), dag.T(dag.Date), dag.Value{I: 19783}, false},
		{"bad time", dag.Value{S: "soon"}, dag.T(dag.String), dag.Timestamp, dag.Value{}, true},
		{"date to datetime", dag.Value{I: 1}, dag.T(dag.Date), dag.T(dag.DateTime), dag.Value{I: int64(24 * time.Hour)}, false},
	} {
		got, err := convertConst(tc.v, tc.from, tc.to)
		if (err != nil) != tc.fails {
			t.Errorf("%s: err = %v, want failure %v", tc.name, err, tc.fails)
			continue
		}
		if !tc.fails && got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
