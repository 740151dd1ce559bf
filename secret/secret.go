// Package secret seals option values that are secrets (passwords, URLs
// with a password) so that the catalog never stores them in clear text.
// A sealed value is `enc:v1:<base64>`: AES-256-GCM under the server's key,
// with a nonce derived from the key and the value (the SIV construction),
// so sealing is deterministic — the same script sealed twice is the same
// text, which keeps `sluice apply` idempotent — and a changed secret
// yields a changed value. The key is process-wide: the server sets it at
// start, and connectors open sealed values when a pipeline starts.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
)

// Prefix marks a sealed value.
const Prefix = "enc:v1:"

var current struct {
	sync.RWMutex
	key []byte
}

// SetKey makes key (any length; it is hashed to 32 bytes) the key that
// Seal and Open use.
func SetKey(key []byte) {
	k := sha256.Sum256(key)
	current.Lock()
	current.key = k[:]
	current.Unlock()
}

// HasKey reports whether a key was set.
func HasKey() bool {
	current.RLock()
	defer current.RUnlock()
	return current.key != nil
}

// IsSealed reports whether v is a sealed value.
func IsSealed(v string) bool { return strings.HasPrefix(v, Prefix) }

// ErrNoKey is returned when a value must be sealed or opened and no key
// was set.
var ErrNoKey = errors.New("no secret key is set (the server sets one from SLUICE_SECRET_KEY or its data directory)")

func aead() (cipher.AEAD, []byte, error) {
	current.RLock()
	key := current.key
	current.RUnlock()
	if key == nil {
		return nil, nil, ErrNoKey
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	g, err := cipher.NewGCM(block)
	return g, key, err
}

// Seal returns v sealed under the current key.
func Seal(v string) (string, error) {
	g, key, err := aead()
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("sluice secret nonce\x00"))
	mac.Write([]byte(v))
	nonce := mac.Sum(nil)[:g.NonceSize()]
	out := g.Seal(nonce, nonce, []byte(v), nil)
	return Prefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open returns the clear value of a sealed one.
func Open(sealed string) (string, error) {
	b64, ok := strings.CutPrefix(sealed, Prefix)
	if !ok {
		return "", errors.New("not a sealed value")
	}
	g, _, err := aead()
	if err != nil {
		return "", err
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || len(raw) < g.NonceSize() {
		return "", errors.New("sealed value is damaged")
	}
	v, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], nil)
	if err != nil {
		return "", errors.New("sealed value does not open with this server's key (was SLUICE_SECRET_KEY changed?)")
	}
	return string(v), nil
}
