// Package seal encrypts secrets at rest (Pay1st credentials, plugin settings)
// with AES-256-GCM under the key from configuration. Each sealed value is
// bound to where it is stored (its "context"), so a ciphertext copied into
// another tenant's row does not open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// ErrOpen means a sealed value could not be opened: wrong key, wrong context
// or tampered bytes. It never says which, and never carries the secret.
var ErrOpen = errors.New("seal: cannot open sealed value")

// ErrKey means the configured key is not 32 bytes.
var ErrKey = errors.New("seal: key must be 32 bytes")

const version byte = 1

// Box seals and opens values with one key.
type Box struct{ aead cipher.AEAD }

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, ErrKey
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext bound to context: version byte, nonce, ciphertext.
func (b *Box) Seal(plaintext []byte, context string) []byte {
	out := make([]byte, 1+b.aead.NonceSize(), 1+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	out[0] = version
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	_, _ = rand.Read(out[1:])
	return b.aead.Seal(out, out[1:], plaintext, []byte(context))
}

// Open decrypts a value sealed with the same key and context.
func (b *Box) Open(sealed []byte, context string) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	pt, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(context))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
