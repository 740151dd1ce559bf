package sql

import "testing"

func BenchmarkParseExample(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(readmeExample)))
	for b.Loop() {
		if _, errs := Parse(readmeExample); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

func BenchmarkFormatExample(b *testing.B) {
	script, errs := Parse(readmeExample)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = FormatScript(script)
	}
}
