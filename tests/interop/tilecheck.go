// Command tilecheck checks an inquiry-ledger log as any C2SP tlog-tiles monitor would,
// with Go's golang.org/x/mod/sumdb packages and none of the ledger's code: it opens the
// latest checkpoint with the log's verifier key (sumdb/note), reads hash tiles over HTTP
// through tlog.TileHashReader (which authenticates every tile it loads against the
// checkpoint's root), recomputes the root with tlog.TreeHash, and proves leaves from the
// tiles (tlog.ProveRecord), checking each proof (tlog.CheckRecord) against the record
// hash of the entry read from its entry bundle. Exit 0 when all of it holds.
//
// Usage: tilecheck -url URL -token TOKEN -vkey VKEY [-leaves 0,5,9]
package main

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8

type server struct {
	url, token string
}

// get fetches a path below the log's URL; anything but 200 is an error.
func (s server) get(path string) ([]byte, error) {
	req, err := http.NewRequest("GET", s.url+"/"+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return body, nil
}

// c2spPath is Go's tile path without its height element (C2SP tlog-tiles fixes the
// height at 8 and leaves it out), data tiles being C2SP's entry bundles.
func c2spPath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", height))
	if strings.HasPrefix(p, "data/") {
		return "tlog/tile/entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tlog/tile/" + p
}

// tileReader is a tlog.TileReader over HTTP; it keeps nothing (SaveTiles is a no-op).
type tileReader struct{ s server }

func (r tileReader) Height() int { return height }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := r.s.get(c2spPath(t))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// checkpoint opens the note and parses the C2SP checkpoint body: origin, size, root.
func checkpoint(s server, vkey string) (tlog.Tree, error) {
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return tlog.Tree{}, err
	}
	msg, err := s.get("tlog/checkpoint")
	if err != nil {
		return tlog.Tree{}, err
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("checkpoint: %w", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[0] != verifier.Name() {
		return tlog.Tree{}, fmt.Errorf("checkpoint body is not origin, size and root: %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return tlog.Tree{}, fmt.Errorf("checkpoint size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return tlog.Tree{}, fmt.Errorf("checkpoint root %q", lines[2])
	}
	tree := tlog.Tree{N: size}
	copy(tree.Hash[:], root)
	return tree, nil
}

// entry reads leaf i's entry from its bundle (for the tree of size n): uint16 lengths.
func entry(s server, n, i int64) ([]byte, error) {
	t := tlog.Tile{H: height, L: -1, N: i >> height, W: 1 << height}
	if rest := n - t.N<<height; rest < int64(t.W) {
		t.W = int(rest)
	}
	data, err := s.get(c2spPath(t))
	if err != nil {
		return nil, err
	}
	for k := int64(0); len(data) >= 2; k++ {
		length := int(data[0])<<8 | int(data[1])
		if len(data) < 2+length {
			break
		}
		if k == i-t.N<<height {
			return data[2 : 2+length], nil
		}
		data = data[2+length:]
	}
	return nil, errors.New("entry bundle too short")
}

func run() error {
	url := flag.String("url", "", "the log's base URL")
	token := flag.String("token", "", "a bearer token (an auditor's, for entry bundles)")
	vkey := flag.String("vkey", "", "the log's note verifier key (NAME+HASH+KEY)")
	leaves := flag.String("leaves", "", "leaf indexes to prove (default: first, middle, last)")
	flag.Parse()
	s := server{strings.TrimSuffix(*url, "/"), *token}

	tree, err := checkpoint(s, *vkey)
	if err != nil {
		return err
	}
	if tree.N == 0 {
		return errors.New("empty tree: nothing to check")
	}
	reader := tlog.TileHashReader(tree, tileReader{s})
	root, err := tlog.TreeHash(tree.N, reader)
	if err != nil {
		return fmt.Errorf("tree hash from tiles: %w", err)
	}
	if root != tree.Hash {
		return fmt.Errorf("tree hash from tiles %v, checkpoint says %v", root, tree.Hash)
	}
	indexes := []int64{0, tree.N / 2, tree.N - 1}
	if *leaves != "" {
		indexes = nil
		for _, f := range strings.Split(*leaves, ",") {
			i, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return err
			}
			indexes = append(indexes, i)
		}
	}
	for _, i := range indexes {
		proof, err := tlog.ProveRecord(tree.N, i, reader)
		if err != nil {
			return fmt.Errorf("proof of leaf %d from tiles: %w", i, err)
		}
		data, err := entry(s, tree.N, i)
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, i, tlog.RecordHash(data)); err != nil {
			return fmt.Errorf("leaf %d: %w", i, err)
		}
	}
	fmt.Printf("ok: tree %d, root %v, %d leaves proven\n", tree.N, tree.Hash, len(indexes))
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tilecheck:", err)
		os.Exit(1)
	}
}
