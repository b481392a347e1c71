// Command noteopen opens a signed note with Go's golang.org/x/mod/sumdb/note, as any
// C2SP verifier that knows only the log's Ed25519 key would: it prints the note's text,
// then one line "unverified NAME HASH" for each signature whose key it does not know
// (the log's ML-DSA-44 line, which it must ignore). Exit 0 when note.Open accepts it.
//
// Usage: noteopen -vkey VKEY < NOTE
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"golang.org/x/mod/sumdb/note"
)

func main() {
	vkey := flag.String("vkey", "", "the verifier key NAME+HASH+BASE64")
	flag.Parse()
	verifier, err := note.NewVerifier(*vkey)
	if err != nil {
		fmt.Fprintln(os.Stderr, "verifier key:", err)
		os.Exit(2)
	}
	msg, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading the note:", err)
		os.Exit(2)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fmt.Fprintln(os.Stderr, "note.Open:", err)
		os.Exit(1)
	}
	fmt.Print(n.Text)
	for _, sig := range n.Sigs {
		fmt.Printf("verified %s %08x\n", sig.Name, sig.Hash)
	}
	for _, sig := range n.UnverifiedSigs {
		fmt.Printf("unverified %s %08x\n", sig.Name, sig.Hash)
	}
}
