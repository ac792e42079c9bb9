package seal_test

import (
	"crypto/rand"
	"fmt"

	"github.com/partnerhub/partnerhub/internal/seal"
)

// A secret is sealed bound to the row it is stored in; it opens only with
// the same key and the same context.
func Example() {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, _ := seal.New(key)

	sealed := box.Seal([]byte("signing key"), "signing_key:7:staging")
	plain, err := box.Open(sealed, "signing_key:7:staging")
	fmt.Println(string(plain), err)

	_, err = box.Open(sealed, "signing_key:8:staging")
	fmt.Println(err)
	// Output:
	// signing key <nil>
	// seal: cannot open sealed value
}
