package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ephemeralKey marks a CSI inline (ephemeral) volume in the volume context kubelet sends.
const ephemeralKey = "csi.storage.k8s.io/ephemeral"

func (d *driver) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{
		NodeId:             d.nodeID,
		MaxVolumesPerNode:  d.maxVolumes,
		AccessibleTopology: &csi.Topology{Segments: map[string]string{topologyKey: d.nodeID}},
	}, nil
}

func (d *driver) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	var caps []*csi.NodeServiceCapability
	for _, t := range []csi.NodeServiceCapability_RPC_Type{
		csi.NodeServiceCapability_RPC_EXPAND_VOLUME,
		csi.NodeServiceCapability_RPC_GET_VOLUME_STATS,
	} {
		caps = append(caps, &csi.NodeServiceCapability{
			Type: &csi.NodeServiceCapability_Rpc{Rpc: &csi.NodeServiceCapability_RPC{Type: t}},
		})
	}
	return &csi.NodeGetCapabilitiesResponse{Capabilities: caps}, nil
}

// NodePublishVolume bind-mounts the volume's directory (for an inline volume, a new one) onto
// the target path kubelet chose, read-only when asked.
func (d *driver) NodePublishVolume(_ context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	id, target := req.GetVolumeId(), req.GetTargetPath()
	if id == "" || target == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id and target path are required")
	}
	if err := checkCapabilities([]*csi.VolumeCapability{req.GetVolumeCapability()}); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	source := d.volumePath(id)
	if req.GetVolumeContext()[ephemeralKey] == "true" {
		source = d.ephemeralPath(id)
		if err := os.MkdirAll(source, 0o777); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		_ = os.Chmod(source, 0o777)
	} else if _, err := os.Stat(source); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume %s does not exist", id)
	}
	mounted, err := isMountPoint(target)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if mounted {
		return &csi.NodePublishVolumeResponse{}, nil
	}
	if err := os.MkdirAll(target, 0o750); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	options, err := mountFlags(req.GetVolumeCapability().GetMount().GetMountFlags())
	if err != nil {
		return nil, err
	}
	if req.GetReadonly() {
		options |= syscall.MS_RDONLY
	}
	if err := bindWithFlags(source, target, options); err != nil {
		return nil, status.Errorf(codes.Internal, "bind mount %s on %s (options %v): %v", source, target, req.GetVolumeCapability().GetMount().GetMountFlags(), err)
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

// bindWithFlags bind-mounts source on target with mount flags. A bind mount takes flags only
// through a remount, and a remount does not propagate to the node's mount namespace, so the
// flags are set on a private staging mount first; the bind mount of that mount onto target
// copies them, and so does its propagated twin kubelet sees.
func bindWithFlags(source, target string, flags uintptr) error {
	if flags == 0 {
		return syscall.Mount(source, target, "", syscall.MS_BIND, "")
	}
	stage, err := os.MkdirTemp("", "stage-")
	if err != nil {
		return err
	}
	defer os.Remove(stage)
	if err := syscall.Mount(source, stage, "", syscall.MS_BIND, ""); err != nil {
		return err
	}
	defer syscall.Unmount(stage, syscall.MNT_DETACH)
	if err := syscall.Mount("", stage, "", syscall.MS_PRIVATE, ""); err != nil {
		return err
	}
	if err := syscall.Mount("", stage, "", syscall.MS_BIND|syscall.MS_REMOUNT|flags, ""); err != nil {
		return err
	}
	return syscall.Mount(stage, target, "", syscall.MS_BIND, "")
}

// supportedMountFlags are the mount options (a storage class's mountOptions) a bind mount can
// take.
var supportedMountFlags = map[string]uintptr{
	"ro":         syscall.MS_RDONLY,
	"nosuid":     syscall.MS_NOSUID,
	"nodev":      syscall.MS_NODEV,
	"noexec":     syscall.MS_NOEXEC,
	"noatime":    syscall.MS_NOATIME,
	"nodiratime": syscall.MS_NODIRATIME,
}

// mountFlags turns mount options into flags; an unknown option is an InvalidArgument error
// that lists the supported ones.
func mountFlags(options []string) (uintptr, error) {
	var flags uintptr
	for _, o := range options {
		f, ok := supportedMountFlags[o]
		if !ok {
			known := make([]string, 0, len(supportedMountFlags))
			for k := range supportedMountFlags {
				known = append(known, k)
			}
			sort.Strings(known)
			return 0, status.Errorf(codes.InvalidArgument, "mount option %q is not supported (supported: %s)", o, strings.Join(known, ", "))
		}
		flags |= f
	}
	return flags, nil
}

func (d *driver) NodeUnpublishVolume(_ context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	id, target := req.GetVolumeId(), req.GetTargetPath()
	if id == "" || target == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id and target path are required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		mounted, err := isMountPoint(target)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		if !mounted {
			break
		}
		if err := syscall.Unmount(target, 0); err != nil {
			return nil, status.Errorf(codes.Internal, "unmount %s: %v", target, err)
		}
	}
	if err := os.Remove(target); err != nil && !os.IsNotExist(err) {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if err := os.RemoveAll(d.ephemeralPath(id)); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// NodeGetVolumeStats reports the volume's capacity from the state file and what its files use.
func (d *driver) NodeGetVolumeStats(_ context.Context, req *csi.NodeGetVolumeStatsRequest) (*csi.NodeGetVolumeStatsResponse, error) {
	id, path := req.GetVolumeId(), req.GetVolumePath()
	if id == "" || path == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id and volume path are required")
	}
	if _, err := os.Stat(path); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume path %s: %v", path, err)
	}
	d.mu.Lock()
	s, err := d.load()
	d.mu.Unlock()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	used, inodes, err := diskUsage(path)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(path, &fs); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	total := int64(fs.Blocks) * fs.Bsize
	if v, ok := s.Volumes[id]; ok {
		total = v.Capacity
	}
	return &csi.NodeGetVolumeStatsResponse{Usage: []*csi.VolumeUsage{
		{Unit: csi.VolumeUsage_BYTES, Total: total, Used: used, Available: max(total-used, 0)},
		{Unit: csi.VolumeUsage_INODES, Total: int64(fs.Files), Used: inodes, Available: int64(fs.Ffree)},
	}}, nil
}

// NodeExpandVolume has nothing to grow: the controller already recorded the new size.
func (d *driver) NodeExpandVolume(_ context.Context, req *csi.NodeExpandVolumeRequest) (*csi.NodeExpandVolumeResponse, error) {
	if req.GetVolumeId() == "" || req.GetVolumePath() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id and volume path are required")
	}
	return &csi.NodeExpandVolumeResponse{CapacityBytes: req.GetCapacityRange().GetRequiredBytes()}, nil
}

// isMountPoint reports whether path is the mount point of some mount in this mount namespace.
func isMountPoint(path string) (bool, error) {
	path = filepath.Clean(path)
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) > 4 && unescapeMountPath(fields[4]) == path {
			return true, nil
		}
	}
	return false, scanner.Err()
}

// unescapeMountPath undoes mountinfo's octal escapes (`\040` for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
