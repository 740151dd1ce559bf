package secret

import (
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	SetKey([]byte("k1"))
	a, err := Seal("hunter2")
	if err != nil {
		t.Fatal(err)
	}
	if !IsSealed(a) || strings.Contains(a, "hunter2") {
		t.Fatalf("sealed value %q", a)
	}
	if b, _ := Seal("hunter2"); b != a {
		t.Fatalf("sealing is not deterministic: %q, %q", a, b)
	}
	if c, _ := Seal("hunter3"); c == a {
		t.Fatal("two secrets sealed alike")
	}
	if v, err := Open(a); err != nil || v != "hunter2" {
		t.Fatalf("open: %q, %v", v, err)
	}
	if _, err := Open(a[:len(a)-2] + "AA"); err == nil {
		t.Fatal("a damaged value opened")
	}
	SetKey([]byte("k2"))
	if _, err := Open(a); err == nil || !strings.Contains(err.Error(), "key") {
		t.Fatalf("opened with another key: %v", err)
	}
}
