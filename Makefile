# Conveniences; README.md gives the two commands that need only Go and bash.
.PHONY: build demo test bench fmt

build:
	go build -o bin/gatehouse ./cmd/gatehouse

demo:
	go run ./cmd/gatehouse demo

test:
	./scripts/test.sh

bench:
	./bench/run.sh

fmt:
	gofmt -w $$(git ls-files '*.go')
	go run ./cmd/gatehouse fmt examples
