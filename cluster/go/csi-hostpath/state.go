package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
)

// volume is one provisioned volume: the directory volumes/<ID>. A block volume's directory
// holds one sparse file, blockImage, of the volume's capacity, which the node attaches to a
// loop device.
type volume struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Capacity int64  `json:"capacity"`
	Block    bool   `json:"block,omitempty"`
	// Source is "snapshot:<id>", "volume:<id>" or empty.
	Source string `json:"source,omitempty"`
}

// snapshot is one snapshot: the archive snapshots/<ID>.tar.
type snapshot struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	SourceVolume string `json:"sourceVolume"`
	Size         int64  `json:"size"`
	// Block: the snapshot is of a block volume, so only a block volume can be restored from it.
	Block   bool      `json:"block,omitempty"`
	Created time.Time `json:"created"`
}

// state is what the controller knows, kept in <statedir>/state.json. The controller and node
// processes may share the directory: every operation reads the file afresh under the lock, and
// only controller operations write it (atomically, by rename).
type state struct {
	Volumes   map[string]*volume   `json:"volumes"`
	Snapshots map[string]*snapshot `json:"snapshots"`
}

// driver holds the configuration and serializes every operation on the state directory.
type driver struct {
	name     string
	nodeID   string
	dir      string
	capacity int64
	// maxVolumes is reported to kubelet as the node's volume limit (0: none).
	maxVolumes int64
	mu         sync.Mutex

	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
	csi.UnimplementedNodeServer
}

func newDriver(name, nodeID, dir string, capacity int64) (*driver, error) {
	for _, sub := range []string{"volumes", "snapshots", "ephemeral"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	return &driver{name: name, nodeID: nodeID, dir: dir, capacity: capacity}, nil
}

// blockImage is the file in a block volume's directory that holds the volume's bytes.
const blockImage = "block.img"

func (d *driver) volumePath(id string) string    { return filepath.Join(d.dir, "volumes", id) }
func (d *driver) imagePath(id string) string     { return filepath.Join(d.volumePath(id), blockImage) }
func (d *driver) snapshotPath(id string) string  { return filepath.Join(d.dir, "snapshots", id+".tar") }
func (d *driver) ephemeralPath(id string) string { return filepath.Join(d.dir, "ephemeral", id) }
func (d *driver) statePath() string              { return filepath.Join(d.dir, "state.json") }
func (d *driver) publishedPath(id string) string { return filepath.Join(d.dir, "published", id) }

func (d *driver) load() (*state, error) {
	s := &state{Volumes: map[string]*volume{}, Snapshots: map[string]*snapshot{}}
	data, err := os.ReadFile(d.statePath())
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("%s: %w", d.statePath(), err)
	}
	return s, nil
}

func (d *driver) save(s *state) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := d.statePath() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, d.statePath())
}

// used is the capacity promised to volumes.
func (s *state) used() int64 {
	var total int64
	for _, v := range s.Volumes {
		total += v.Capacity
	}
	return total
}

func (s *state) volumeByName(name string) *volume {
	for _, v := range s.Volumes {
		if v.Name == name {
			return v
		}
	}
	return nil
}

func (s *state) snapshotByName(name string) *snapshot {
	for _, snap := range s.Snapshots {
		if snap.Name == name {
			return snap
		}
	}
	return nil
}

// idFor derives a stable ID from a request name, so a retried create finds its own result.
func idFor(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	return prefix + "-" + hex.EncodeToString(sum[:8])
}

// archive writes the tree under dir as a tar stream: directories, regular files and symlinks,
// with their modes and modification times.
func archive(dir string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		info, err := entry.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		} else if !info.Mode().IsRegular() && !info.IsDir() {
			return nil // sockets, devices and fifos are not volume content
		}
		header, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		header.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(header); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// extract unpacks a tar stream written by archive into dir, refusing paths that leave it.
func extract(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		header, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(header.Name))
		if !strings.HasPrefix(target, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("archive entry %q leaves the volume", header.Name)
		}
		mode := fs.FileMode(header.Mode).Perm()
		switch header.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.Symlink(header.Linkname, target); err != nil {
				return err
			}
			continue
		case tar.TypeReg:
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			_, err = copySparse(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			continue
		}
		_ = os.Chmod(target, mode)
		_ = os.Chtimes(target, header.ModTime, header.ModTime)
	}
}

// copySparse copies r into the new file f, leaving holes where r has blocks of zeros (a block
// volume's image is mostly zeros), and returns the bytes copied.
func copySparse(f *os.File, r io.Reader) (int64, error) {
	w := &sparseWriter{f: f}
	n, err := io.Copy(w, r)
	if err == nil {
		err = f.Truncate(w.pos) // the length a trailing hole does not give
	}
	return n, err
}

// sparseWriter writes to a file, seeking over (rather than writing) 4 KiB blocks of zeros.
// The file's length is pos once the writer is done: a trailing hole needs a Truncate.
type sparseWriter struct {
	f   *os.File
	pos int64
}

// zeroBlock is what sparseWriter compares against.
var zeroBlock [4096]byte

func (w *sparseWriter) Write(p []byte) (int, error) {
	for done := 0; done < len(p); {
		chunk := p[done:min(done+len(zeroBlock), len(p))]
		var err error
		if bytes.Equal(chunk, zeroBlock[:len(chunk)]) {
			_, err = w.f.Seek(int64(len(chunk)), io.SeekCurrent)
		} else {
			_, err = w.f.Write(chunk)
		}
		if err != nil {
			return done, err
		}
		done += len(chunk)
		w.pos += int64(len(chunk))
	}
	return len(p), nil
}

// copyTree copies the content of src into the empty directory dst.
func copyTree(src, dst string) error {
	r, w := io.Pipe()
	go func() { w.CloseWithError(archive(src, w)) }()
	err := extract(r, dst)
	r.CloseWithError(err)
	return err
}

// diskUsage is the bytes and inodes used by the files under dir.
func diskUsage(dir string) (bytes, inodes int64, err error) {
	err = filepath.WalkDir(dir, func(_ string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		inodes++
		if entry.Type().IsRegular() {
			info, err := entry.Info()
			if err != nil {
				return err
			}
			bytes += info.Size()
		}
		return nil
	})
	return bytes, inodes, err
}
