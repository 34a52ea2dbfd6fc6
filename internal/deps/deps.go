// Package deps pins modules that are about to be used (temporary).
package deps

import (
	_ "github.com/expr-lang/expr"
	_ "github.com/fsnotify/fsnotify"
	_ "github.com/go-json-experiment/json/jsontext"
)
