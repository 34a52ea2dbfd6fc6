// Package deps pins modules that are about to be used (temporary).
package deps

import (
	_ "github.com/coreos/go-oidc/v3/oidc"
	_ "github.com/dgraph-io/ristretto/v2"
	_ "github.com/go-ldap/ldap/v3"
	_ "github.com/golang-jwt/jwt/v5"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/crypto/bcrypt"
	_ "golang.org/x/oauth2"
	_ "golang.org/x/term"
)
