package password

import (
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// BenchmarkVerify measures one successful verification with the default
// argon2id parameters (m=64 MiB, t=3, p=4) and with bcrypt cost 10, and one
// verification against a Dummy, which is what an unknown user costs.
func BenchmarkVerify(b *testing.B) {
	const pw = "correct horse battery staple"
	a, err := New(pw, DefaultParams())
	if err != nil {
		b.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte(pw), 10)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, hash string }{
		{"argon2id-m65536-t3-p4", a},
		{"bcrypt-cost10", string(bc)},
	} {
		h, err := Parse(c.hash)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !h.Verify(pw) {
					b.Fatal("Verify = false")
				}
			}
		})
		d := h.Dummy()
		b.Run(c.name+"-dummy", func(b *testing.B) {
			for b.Loop() {
				if d.Verify(pw) {
					b.Fatal("Dummy verified")
				}
			}
		})
	}
}

// BenchmarkParse measures parsing, done once per user at config load.
func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse(vectors[0].hash); err != nil {
			b.Fatal(err)
		}
	}
}
