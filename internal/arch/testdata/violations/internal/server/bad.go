// Package server imports bcrypt, which it may, and an SQL driver.
package server

import (
	_ "net/http"

	_ "golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite"
)
