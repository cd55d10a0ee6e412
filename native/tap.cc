// tapnet's TAP addon: the only native code in the project.
//
// Read first: Documentation/networking/tuntap.rst in the Linux tree (TUNSETIFF,
// IFF_TAP, IFF_NO_PI, IFF_VNET_HDR), include/uapi/linux/if_tun.h (TUNSETOFFLOAD
// flags), include/uapi/linux/virtio_net.h (the 12-byte header), setns(2), and
// libuv's uv_poll_t documentation.
//
// One TapHandle owns one TAP file descriptor:
//   - open: /dev/net/tun + TUNSETIFF(IFF_TAP | IFF_NO_PI [| IFF_VNET_HDR]),
//     optionally with the calling thread moved into a named netns for the
//     duration of the open (the device is created there; the fd works from
//     any namespace afterwards);
//   - read: a uv_poll_t on the non-blocking fd; on each wake-up read up to
//     `slots` frames into one JS-owned buffer (slot i at i * slotSize), store
//     the lengths in a JS-owned Uint32Array, then make ONE call into JS with
//     the count. No threads, no per-frame allocation, nothing that can keep
//     process.exit() waiting. While traffic is dense, a wake-up keeps reading
//     for a few tens of µs after its batch (adaptive busy-poll, ReadBatch);
//     an idle TAP never spins;
//   - write: one writev(2) per frame; a frame is a few (buffer, offset,
//     length) parts, so headers built in a small buffer and a payload that
//     stays where it is (a receive slot, a TCP send-buffer block) leave
//     together without being copied into one buffer first. A TAP never
//     blocks a writer for long, so EAGAIN (and ENOBUFS/ENOMEM) simply drop
//     the frame and the caller counts it;
//   - close: uv_poll_stop + uv_close + close(fd). The TAP is not persistent,
//     so the kernel deletes the interface when the fd closes.
// When the interface is deleted underneath us (`ip link del`), poll reports
// an error and read(2) fails with EBADFD: we stop, close, and call the JS
// onClose(reason) callback once.

#include <napi.h>
#include <uv.h>

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>

namespace {

// sizeof(struct virtio_net_hdr_mrg_rxbuf): the 10-byte virtio_net_hdr plus
// num_buffers. The same size QEMU and vhost-net use with TAPs.
constexpr int kVnetHdrSize = 12;
// One read batch is capped so a flood cannot starve the rest of the event loop.
constexpr uint32_t kMaxSlots = 1024;
// Busy-polling (see ReadBatch): spin only when the previous batch ended less
// than this long ago, i.e. while a flow is running.
constexpr uint64_t kBusyPollDenseGapNs = 1000000;  // 1 ms
// One wake-up never spins and handles batches for longer than this, so
// timers and the other TAPs' handles get their turn.
constexpr uint64_t kBusyPollSessionNs = 2000000;  // 2 ms
// After this many spins in a row that found nothing, stop spinning for the
// next kBusyPollCooldownBatches wake-ups (sparse traffic: spinning would only
// burn CPU).
constexpr uint32_t kBusyPollMissStreakMax = 8;
constexpr uint32_t kBusyPollCooldownBatches = 64;
// Default spin: a little longer than one kernel round trip through a TAP
// (ping's reply in, its next request out), so a flood keeps us awake.
constexpr uint32_t kBusyPollDefaultUs = 50;
constexpr uint32_t kBusyPollMaxUs = 1000;
// writeBatch: distinct buffers one batch may name, and parts (iovecs) per frame.
constexpr uint32_t kMaxTxBuffers = 64;
constexpr uint32_t kMaxFrameParts = 16;

const char* ErrnoName(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case ENOSPC: return "ENOSPC";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EBADFD: return "EBADFD";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOBUFS: return "ENOBUFS";
    case ENETDOWN: return "ENETDOWN";
    case EMSGSIZE: return "EMSGSIZE";
    default: return "EUNKNOWN";
  }
}

// "Device or resource busy (EBUSY)"
std::string Describe(int err) {
  return std::string(std::strerror(err)) + " (" + ErrnoName(err) + ")";
}

// An Error shaped like Node's system errors: message, code, errno, syscall.
Napi::Error SystemError(Napi::Env env, const std::string& message, int err, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

// Closes a file descriptor when it goes out of scope, unless released.
class ScopedFd {
 public:
  explicit ScopedFd(int fd = -1) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

struct OpenOptions {
  std::string name;   // empty: the kernel picks tapN
  std::string netns;  // empty: the caller's namespace
  bool vnetHdr = false;
  unsigned int offloadFlags = 0;
  int mtu = 0;  // 0: leave the kernel default (1500)
};

// What the open produced, or the first error (errno + message), reported only
// after the thread is back in its own namespace.
struct OpenResult {
  int fd = -1;
  std::string name;
  int mtu = 1500;
  int offloadErrno = 0;
  int err = 0;
  const char* syscall = "";
  std::string message;
};

// Creates (or attaches to) the TAP, then applies header size, offloads and MTU.
// Runs in whatever network namespace the thread is in.
void OpenInCurrentNamespace(const OpenOptions& o, OpenResult& r) {
  const std::string label = o.name.empty() ? std::string("(kernel-named)") : o.name;
  ScopedFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) {
    r.err = errno;
    r.syscall = "open";
    r.message = "cannot open /dev/net/tun: " + Describe(r.err) +
                (r.err == ENOENT ? "; is the tun module loaded (modprobe tun)?" : "");
    return;
  }

  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (o.vnetHdr ? IFF_VNET_HDR : 0);
  std::strncpy(ifr.ifr_name, o.name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) {
    r.err = errno;
    r.syscall = "ioctl(TUNSETIFF)";
    switch (r.err) {
      case EBUSY:
        r.message = "TAP " + label + " is in use by another process (EBUSY)";
        break;
      case EPERM:
        r.message = "cannot create TAP " + label + ": " + Describe(r.err) + "; tapnet needs root or CAP_NET_ADMIN";
        break;
      case EINVAL:
        r.message = "cannot create TAP " + label + ": " + Describe(r.err) +
                    "; an interface of that name exists and is not a TAP, or its flags differ";
        break;
      default:
        r.message = "cannot create TAP " + label + ": " + Describe(r.err);
    }
    return;
  }
  r.name = ifr.ifr_name;

  if (o.vnetHdr) {
    int size = kVnetHdrSize;
    if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &size) < 0) {
      r.err = errno;
      r.syscall = "ioctl(TUNSETVNETHDRSZ)";
      r.message = "TAP " + r.name + ": cannot set the virtio-net header size to 12: " + Describe(r.err);
      return;
    }
    // Header fields little-endian on every host (virtio 1.0). Older kernels
    // lack TUNSETVNETLE; on little-endian hosts that changes nothing.
    int le = 1;
    if (::ioctl(fd.get(), TUNSETVNETLE, &le) < 0) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
      r.err = errno;
      r.syscall = "ioctl(TUNSETVNETLE)";
      r.message = "TAP " + r.name + ": cannot make the virtio-net header little-endian: " + Describe(r.err);
      return;
#endif
    }
    // A failure here is not fatal: JS retries with fewer flags.
    if (::ioctl(fd.get(), TUNSETOFFLOAD, static_cast<unsigned long>(o.offloadFlags)) < 0) r.offloadErrno = errno;
  }

  // MTU ioctls go through any socket of the namespace that holds the device.
  ScopedFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() >= 0) {
    struct ifreq mreq;
    std::memset(&mreq, 0, sizeof mreq);
    std::strncpy(mreq.ifr_name, r.name.c_str(), IFNAMSIZ - 1);
    if (o.mtu > 0) {
      mreq.ifr_mtu = o.mtu;
      if (::ioctl(sock.get(), SIOCSIFMTU, &mreq) < 0) {
        r.err = errno;
        r.syscall = "ioctl(SIOCSIFMTU)";
        r.message = "TAP " + r.name + ": cannot set MTU " + std::to_string(o.mtu) + ": " + Describe(r.err);
        return;
      }
    }
    if (::ioctl(sock.get(), SIOCGIFMTU, &mreq) == 0) r.mtu = mreq.ifr_mtu;
  } else if (o.mtu > 0) {
    r.err = errno;
    r.syscall = "socket";
    r.message = "TAP " + r.name + ": cannot open a socket to set the MTU: " + Describe(r.err);
    return;
  }
  r.fd = fd.release();
}

// Opens the TAP inside `o.netns` (a name under /var/run/netns, or a path such
// as /proc/PID/ns/net): setns(2) moves only the calling thread, and we move it
// back before returning, whatever happened.
void OpenTap(const OpenOptions& o, OpenResult& r) {
  if (o.netns.empty()) {
    OpenInCurrentNamespace(o, r);
    return;
  }
  const std::string path = o.netns.find('/') == std::string::npos ? "/var/run/netns/" + o.netns : o.netns;
  ScopedFd target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (target.get() < 0) {
    r.err = errno;
    r.syscall = "open";
    r.message = "cannot open network namespace " + o.netns + " (" + path + "): " + Describe(r.err);
    return;
  }
  ScopedFd original(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (original.get() < 0) {
    r.err = errno;
    r.syscall = "open";
    r.message = "cannot open /proc/thread-self/ns/net to return to later: " + Describe(r.err);
    return;
  }
  if (::setns(target.get(), CLONE_NEWNET) < 0) {
    r.err = errno;
    r.syscall = "setns";
    r.message = "cannot enter network namespace " + o.netns + ": " + Describe(r.err);
    return;
  }
  OpenInCurrentNamespace(o, r);
  if (::setns(original.get(), CLONE_NEWNET) < 0) {
    // Every later socket of this thread would land in the wrong namespace.
    Napi::Error::Fatal("tapnet_tap", "cannot return to the original network namespace after opening a TAP");
  }
}

class TapHandle : public Napi::ObjectWrap<TapHandle> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "TapHandle",
                       {
                           InstanceAccessor<&TapHandle::GetName>("name"),
                           InstanceAccessor<&TapHandle::GetFd>("fd"),
                           InstanceAccessor<&TapHandle::GetMtu>("mtu"),
                           InstanceAccessor<&TapHandle::GetVnetHdr>("vnetHdr"),
                           InstanceAccessor<&TapHandle::GetOffloadError>("offloadError"),
                           InstanceAccessor<&TapHandle::GetLastWriteError>("lastWriteError"),
                           InstanceAccessor<&TapHandle::GetClosed>("closed"),
                           InstanceAccessor<&TapHandle::GetBusyPollHits>("busyPollHits"),
                           InstanceAccessor<&TapHandle::GetBusyPollMisses>("busyPollMisses"),
                           InstanceMethod<&TapHandle::SetOffload>("setOffload"),
                           InstanceMethod<&TapHandle::SetBusyPoll>("setBusyPoll"),
                           InstanceMethod<&TapHandle::Start>("start"),
                           InstanceMethod<&TapHandle::Write>("write"),
                           InstanceMethod<&TapHandle::WriteBatch>("writeBatch"),
                           InstanceMethod<&TapHandle::Close>("close"),
                           InstanceMethod<&TapHandle::RefHandle>("ref"),
                           InstanceMethod<&TapHandle::UnrefHandle>("unref"),
                       });
  }

  // new TapHandle({ name?, netns?, vnetHdr?, offloadFlags?, mtu? })
  explicit TapHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TapHandle>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    OpenOptions o;
    if (info.Length() > 0 && !info[0].IsUndefined()) {
      if (!info[0].IsObject()) throw Napi::TypeError::New(env, "TapHandle: options must be an object");
      Napi::Object opts = info[0].As<Napi::Object>();
      Napi::Value v = opts.Get("name");
      if (v.IsString()) o.name = v.As<Napi::String>().Utf8Value();
      else if (!v.IsUndefined()) throw Napi::TypeError::New(env, "TapHandle: name must be a string");
      v = opts.Get("netns");
      if (v.IsString()) o.netns = v.As<Napi::String>().Utf8Value();
      else if (!v.IsUndefined()) throw Napi::TypeError::New(env, "TapHandle: netns must be a string");
      o.vnetHdr = opts.Get("vnetHdr").ToBoolean().Value();
      v = opts.Get("offloadFlags");
      if (v.IsNumber()) o.offloadFlags = v.As<Napi::Number>().Uint32Value();
      v = opts.Get("mtu");
      if (v.IsNumber()) o.mtu = v.As<Napi::Number>().Int32Value();
    }
    if (o.name.size() >= IFNAMSIZ) {
      throw Napi::RangeError::New(env, "TAP name \"" + o.name + "\" is longer than " + std::to_string(IFNAMSIZ - 1) +
                                           " characters (IFNAMSIZ)");
    }

    OpenResult r;
    OpenTap(o, r);
    if (r.err != 0) throw SystemError(env, r.message, r.err, r.syscall);
    fd_ = r.fd;
    name_ = r.name;
    mtu_ = r.mtu;
    vnetHdr_ = o.vnetHdr;
    offloadErrno_ = r.offloadErrno;
    // Environment teardown (worker exit) waits for this hook to finish, so a
    // pending uv_close completes while this library is still loaded.
    napi_add_async_cleanup_hook(env_, OnTeardown, this, &teardownHook_);
  }

  // Runs when JS collected the object: after close() (start() holds a
  // reference until the poll handle has closed), if start() never ran, or at
  // environment teardown after OnTeardown.
  ~TapHandle() override {
    if (teardownHook_ != nullptr) napi_remove_async_cleanup_hook(teardownHook_);
    if (poller_ != nullptr) {
      poller_->owner = nullptr;
      ClosePoller();
    }
    if (closing_ != nullptr) closing_->owner = nullptr;
    CloseFd();
  }

 private:
  Napi::Value GetName(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), name_); }
  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value GetMtu(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), mtu_); }
  Napi::Value GetVnetHdr(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), vnetHdr_); }
  Napi::Value GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_); }
  Napi::Value GetOffloadError(const Napi::CallbackInfo& info) { return ErrnoValue(info.Env(), offloadErrno_); }
  Napi::Value GetLastWriteError(const Napi::CallbackInfo& info) { return ErrnoValue(info.Env(), lastWriteErrno_); }

  Napi::Value GetBusyPollHits(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), busyPollHits_); }
  Napi::Value GetBusyPollMisses(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), busyPollMisses_); }

  // setBusyPoll(microseconds): how long a wake-up keeps reading after a batch
  // while traffic is dense; 0 turns busy-polling off.
  Napi::Value SetBusyPoll(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "setBusyPoll(microseconds)");
    const uint32_t us = info[0].As<Napi::Number>().Uint32Value();
    if (us > kBusyPollMaxUs) throw Napi::RangeError::New(env, "setBusyPoll: at most " + std::to_string(kBusyPollMaxUs) + " µs");
    busyPollNs_ = static_cast<uint64_t>(us) * 1000;
    return env.Undefined();
  }

  static Napi::Value ErrnoValue(Napi::Env env, int err) {
    if (err == 0) return env.Undefined();
    return Napi::String::New(env, ErrnoName(err));
  }

  // setOffload(flags) → undefined on success, else the errno code ("EINVAL").
  Napi::Value SetOffload(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!vnetHdr_) throw Napi::Error::New(env, "TAP " + name_ + ": offloads need the virtio-net header (vnetHdr)");
    if (closed_) throw Napi::Error::New(env, "TAP " + name_ + " is closed");
    unsigned long flags = info[0].As<Napi::Number>().Uint32Value();
    offloadErrno_ = ::ioctl(fd_, TUNSETOFFLOAD, flags) < 0 ? errno : 0;
    return ErrnoValue(env, offloadErrno_);
  }

  // start(rx: Uint8Array, slotSize, slots, lengths: Uint32Array, onRead(count), onClose(reason))
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) throw Napi::Error::New(env, "TAP " + name_ + " is closed");
    if (poller_ != nullptr) throw Napi::Error::New(env, "TAP " + name_ + ": start() called twice");
    if (info.Length() < 6 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber() ||
        !info[3].IsTypedArray() || !info[4].IsFunction() || !info[5].IsFunction()) {
      throw Napi::TypeError::New(env, "start(rx: Uint8Array, slotSize, slots, lengths: Uint32Array, onRead, onClose)");
    }
    Napi::TypedArray rxArray = info[0].As<Napi::TypedArray>();
    Napi::TypedArray lengthsArray = info[3].As<Napi::TypedArray>();
    if (rxArray.TypedArrayType() != napi_uint8_array || lengthsArray.TypedArrayType() != napi_uint32_array) {
      throw Napi::TypeError::New(env, "start: rx must be a Uint8Array and lengths a Uint32Array");
    }
    const uint32_t slotSize = info[1].As<Napi::Number>().Uint32Value();
    const uint32_t slots = info[2].As<Napi::Number>().Uint32Value();
    Napi::Uint8Array rx = rxArray.As<Napi::Uint8Array>();
    Napi::Uint32Array lengths = lengthsArray.As<Napi::Uint32Array>();
    if (slots == 0 || slots > kMaxSlots || slotSize < 64 || static_cast<uint64_t>(slotSize) * slots > rx.ByteLength() ||
        lengths.ElementLength() < slots) {
      throw Napi::RangeError::New(env, "start: rx must hold slots * slotSize bytes and lengths at least slots entries");
    }

    rxRef_ = Napi::Persistent(rx.As<Napi::Object>());
    lengthsRef_ = Napi::Persistent(lengths.As<Napi::Object>());
    rx_ = rx.Data();
    rxLengths_ = lengths.Data();
    rxSlotSize_ = slotSize;
    rxSlots_ = slots;
    onRead_ = Napi::Persistent(info[4].As<Napi::Function>());
    onClose_ = Napi::Persistent(info[5].As<Napi::Function>());
    asyncContext_ = std::make_unique<Napi::AsyncContext>(env, "tapnet:tap");

    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      throw Napi::Error::New(env, "start: no libuv loop");
    }
    auto* poller = new Poller;
    int rc = uv_poll_init(loop, &poller->handle, fd_);
    if (rc != 0) {
      delete poller;
      throw Napi::Error::New(env, "TAP " + name_ + ": uv_poll_init: " + uv_strerror(rc));
    }
    poller->handle.data = poller;
    poller->owner = this;
    poller_ = poller;
    // Keep this object (and its JS buffers) alive while libuv may call us;
    // OnPollerClosed lets go.
    Ref();
    rc = uv_poll_start(&poller_->handle, UV_READABLE, OnPoll);
    if (rc != 0) {
      ClosePoller();
      throw Napi::Error::New(env, "TAP " + name_ + ": uv_poll_start: " + uv_strerror(rc));
    }
    if (!refed_) uv_unref(reinterpret_cast<uv_handle_t*>(&poller_->handle));
    return env.Undefined();
  }

  // write(buf: Uint8Array, offset, length) → bytes written, or -errno.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsTypedArray()) {
      throw Napi::TypeError::New(env, "write(buf: Uint8Array, offset, length)");
    }
    Napi::Uint8Array buf = info[0].As<Napi::Uint8Array>();
    const uint32_t offset = info[1].As<Napi::Number>().Uint32Value();
    const uint32_t length = info[2].As<Napi::Number>().Uint32Value();
    if (static_cast<uint64_t>(offset) + length > buf.ByteLength()) {
      throw Napi::RangeError::New(env, "write: range outside buf");
    }
    if (closed_) return Napi::Number::New(env, -EBADF);
    ssize_t n;
    do n = ::write(fd_, buf.Data() + offset, length);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      lastWriteErrno_ = errno;
      return Napi::Number::New(env, -errno);
    }
    return Napi::Number::New(env, static_cast<double>(n));
  }

  // writeBatch(buffers: ArrayBuffer[], parts: Uint32Array, frameParts: Uint32Array, frames)
  // → frames written; the others were dropped (see lastWriteError).
  //
  // Scatter/gather: frame i is frameParts[i] consecutive parts, each a
  // (buffer index, offset, length) triple in `parts` naming bytes of
  // buffers[index]: the batch's own copy buffer, a receive buffer (a
  // forwarded frame queued by reference) or a TCP send-buffer block. Each
  // frame leaves with one writev(2), its parts in order (a TAP takes one
  // frame per write). Everything is checked before the first write, so a bad
  // batch throws and writes nothing.
  Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray()) {
      throw Napi::TypeError::New(env, "writeBatch(buffers: ArrayBuffer[], parts: Uint32Array, frameParts: Uint32Array, frames)");
    }
    Napi::Array buffers = info[0].As<Napi::Array>();
    Napi::Uint32Array parts = info[1].As<Napi::Uint32Array>();
    Napi::Uint32Array frameParts = info[2].As<Napi::Uint32Array>();
    const uint32_t frames = info[3].As<Napi::Number>().Uint32Value();
    if (frames > frameParts.ElementLength()) throw Napi::RangeError::New(env, "writeBatch: frames exceeds frameParts");
    // The buffers the parts name, looked up once each (a batch names a handful).
    uint8_t* base[kMaxTxBuffers];
    size_t size[kMaxTxBuffers];
    bool known[kMaxTxBuffers] = {};
    const uint32_t bufferCount = buffers.Length();
    const size_t tripleCount = parts.ElementLength() / 3;
    size_t part = 0;
    for (uint32_t i = 0; i < frames; i++) {
      const uint32_t n = frameParts[i];
      if (n == 0 || n > kMaxFrameParts || part + n > tripleCount) {
        throw Napi::RangeError::New(env, "writeBatch: frame " + std::to_string(i) + " has a bad part count");
      }
      for (uint32_t k = 0; k < n; k++, part++) {
        const uint32_t index = parts[3 * part];
        if (index >= bufferCount || index >= kMaxTxBuffers) throw Napi::RangeError::New(env, "writeBatch: buffer index out of range");
        if (!known[index]) {
          Napi::Value v = buffers[index];
          if (!v.IsArrayBuffer()) throw Napi::TypeError::New(env, "writeBatch: buffers[" + std::to_string(index) + "] is not an ArrayBuffer");
          Napi::ArrayBuffer ab = v.As<Napi::ArrayBuffer>();
          base[index] = static_cast<uint8_t*>(ab.Data());
          size[index] = ab.ByteLength();
          known[index] = true;
        }
        if (static_cast<uint64_t>(parts[3 * part + 1]) + parts[3 * part + 2] > size[index]) {
          throw Napi::RangeError::New(env, "writeBatch: a part of frame " + std::to_string(i) + " lies outside its buffer");
        }
      }
    }
    if (closed_) return Napi::Number::New(env, 0);
    uint32_t written = 0;
    struct iovec iov[kMaxFrameParts];
    part = 0;
    for (uint32_t i = 0; i < frames; i++) {
      const uint32_t n = frameParts[i];
      for (uint32_t k = 0; k < n; k++, part++) {
        iov[k].iov_base = base[parts[3 * part]] + parts[3 * part + 1];
        iov[k].iov_len = parts[3 * part + 2];
      }
      ssize_t w;
      do w = ::writev(fd_, iov, static_cast<int>(n));
      while (w < 0 && errno == EINTR);
      if (w >= 0) written++;
      else lastWriteErrno_ = errno;
    }
    return Napi::Number::New(env, written);
  }

  // close(): stops polling and closes the fd; no onClose callback (JS knows).
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  Napi::Value RefHandle(const Napi::CallbackInfo& info) {
    refed_ = true;
    if (poller_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(&poller_->handle));
    return info.Env().Undefined();
  }

  Napi::Value UnrefHandle(const Napi::CallbackInfo& info) {
    refed_ = false;
    if (poller_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(&poller_->handle));
    return info.Env().Undefined();
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    TapHandle* self = static_cast<Poller*>(handle->data)->owner;
    if (self == nullptr || self->closed_) return;
    // libuv turns POLLERR (what a TAP reports once its interface is deleted)
    // into UV_EBADF and stops the handle; read(2) then tells the real reason.
    try {
      self->ReadBatch(status);
    } catch (const Napi::Error&) {
      // N-API refused (the environment is terminating): nothing to report to.
    }
  }

  // Reads until EAGAIN or `max` frames (at most the batch) into the rx slots;
  // returns the frame count. *err gets a fatal errno, *eof true at end of file.
  uint32_t ReadAvailable(int* err, bool* eof, uint32_t max) {
    uint32_t count = 0;
    while (count < max && count < rxSlots_) {
      ssize_t n = ::read(fd_, rx_ + static_cast<size_t>(count) * rxSlotSize_, rxSlotSize_);
      if (n > 0) {
        // tun reports the full frame length even when the buffer was shorter
        // (it copies what fits): never claim more than the slot holds.
        rxLengths_[count++] = static_cast<uint32_t>(n) > rxSlotSize_ ? rxSlotSize_ : static_cast<uint32_t>(n);
      } else if (n == 0) {
        *eof = true;
        break;
      } else if (errno == EINTR) {
        continue;
      } else {
        if (errno != EAGAIN) *err = errno;
        break;
      }
    }
    return count;
  }

  static uint64_t NowNs() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
  }

  // Should this wake-up spin after its batch? Only when traffic is dense (the
  // previous batch ended less than kBusyPollDenseGapNs ago) and recent spins
  // paid off: an isolated frame on an idle TAP never spins, so idle CPU stays 0.
  bool ShouldSpin(uint64_t gapNs) {
    if (busyPollNs_ == 0 || gapNs > kBusyPollDenseGapNs) return false;
    if (busyPollCooldown_ > 0) {
      busyPollCooldown_--;
      return false;
    }
    return true;
  }

  // One wake-up: read a batch and hand it to JS in one call; then, when
  // traffic is dense, busy-poll (read again for up to busyPollNs_ before
  // going back to epoll). A flood ping or a TCP stream then finds its next
  // frame without an epoll sleep and a vCPU wake-up (the latency that caps
  // the reply rate on an idle machine). A session is bounded in time so
  // timers and other handles still run; level-triggered poll brings us back
  // at once if frames remain.
  void ReadBatch(int pollStatus) {
    int err = 0;
    bool eof = false;
    const uint64_t start = NowNs();
    const uint64_t gap = start - lastBatchEndNs_;
    uint32_t count = ReadAvailable(&err, &eof, rxSlots_);
    Napi::Env env(env_);
    Napi::HandleScope scope(env);
    if (count > 0) {
      CallIntoJs(onRead_, {Napi::Number::New(env, count)});
      if (closed_) return;  // JS closed the TAP while handling the batch
      lastBatchEndNs_ = NowNs();
      if (err == 0 && !eof && ShouldSpin(gap)) {
        const uint64_t sessionEnd = start + kBusyPollSessionNs;
        for (;;) {
          const uint64_t spinEnd = lastBatchEndNs_ + busyPollNs_;
          uint64_t now = lastBatchEndNs_;
          count = 0;
          // A frame found after an empty read arrived on its own (a request
          // of a ping-pong): hand it over at once instead of paying one more
          // read(2) for the EAGAIN. Frames that queued up while JS ran are
          // read as a full batch.
          bool missed = false;
          while (count == 0 && err == 0 && !eof && now < spinEnd) {
            count = ReadAvailable(&err, &eof, missed ? 1 : rxSlots_);
            if (count == 0) {
              missed = true;
              now = NowNs();
            }
          }
          if (count == 0) {
            busyPollMisses_++;
            if (++busyPollMissStreak_ >= kBusyPollMissStreakMax) {
              busyPollMissStreak_ = 0;
              busyPollCooldown_ = kBusyPollCooldownBatches;
            }
            break;
          }
          busyPollHits_++;
          busyPollMissStreak_ = 0;
          CallIntoJs(onRead_, {Napi::Number::New(env, count)});
          if (closed_) return;
          lastBatchEndNs_ = NowNs();
          if (err != 0 || eof || lastBatchEndNs_ >= sessionEnd) break;
        }
      }
    }
    // EBADFD: the interface was deleted; EIO/ENXIO/ENODEV and friends: gone too.
    if (err != 0) Fail("TAP " + name_ + " went away (read: " + Describe(err) + ")");
    else if (eof) Fail("TAP " + name_ + " went away (read: end of file)");
    else if (pollStatus < 0) Fail("TAP " + name_ + " went away (poll: " + uv_strerror(pollStatus) + ")");
  }

  // The device failed underneath us: close, then tell JS once.
  void Fail(const std::string& reason) {
    if (closed_) return;
    Shutdown();
    if (!onClose_.IsEmpty()) CallIntoJs(onClose_, {Napi::String::New(Napi::Env(env_), reason)});
  }

  // MakeCallback with an async context: JS sees a proper async resource and
  // microtasks (promise reactions) run before control returns to libuv. A JS
  // exception becomes an uncaught exception, as from any other I/O callback.
  void CallIntoJs(const Napi::FunctionReference& fn, const std::initializer_list<napi_value>& args) {
    try {
      fn.MakeCallback(Value(), args, *asyncContext_);
    } catch (const Napi::Error& e) {
      if (!e.Value().IsEmpty()) napi_fatal_exception(env_, e.Value());
    }
  }

  // Stops reading and closes the fd (the kernel then deletes the TAP).
  void Shutdown() {
    if (closed_) return;
    closed_ = true;
    ClosePoller();
    CloseFd();
    // Nothing left for environment teardown to wait for.
    if (closing_ == nullptr && teardownHook_ != nullptr) {
      napi_remove_async_cleanup_hook(teardownHook_);
      teardownHook_ = nullptr;
    }
  }

  void CloseFd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void ClosePoller() {
    if (poller_ == nullptr) return;
    uv_poll_stop(&poller_->handle);
    closing_ = poller_;
    poller_ = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&closing_->handle), OnPollerClosed);
  }

  // libuv is done with the handle: free it, drop the reference start() took,
  // and let a waiting environment teardown continue.
  static void OnPollerClosed(uv_handle_t* handle) {
    auto* poller = static_cast<Poller*>(handle->data);
    TapHandle* owner = poller->owner;
    napi_async_cleanup_hook_handle teardown = poller->teardown;
    delete poller;
    if (owner != nullptr) {
      owner->closing_ = nullptr;
      if (owner->closed_ && owner->teardownHook_ != nullptr) {
        napi_remove_async_cleanup_hook(owner->teardownHook_);
        owner->teardownHook_ = nullptr;
      }
      try {
        owner->Unref();
      } catch (const Napi::Error&) {
        // Only fails while the environment is torn down, when it no longer matters.
      }
    }
    if (teardown != nullptr) napi_remove_async_cleanup_hook(teardown);
  }

  // Environment teardown (worker exit): release everything without calling
  // into JS. Teardown waits until `hook` is removed, which OnPollerClosed does
  // if a handle is still closing, so libuv never calls into an unloaded library.
  static void OnTeardown(napi_async_cleanup_hook_handle hook, void* arg) {
    auto* self = static_cast<TapHandle*>(arg);
    self->teardownHook_ = nullptr;
    self->closed_ = true;
    self->ClosePoller();
    self->CloseFd();
    if (self->closing_ != nullptr) {
      self->closing_->owner = nullptr;
      self->closing_->teardown = hook;
      self->closing_ = nullptr;
    } else {
      napi_remove_async_cleanup_hook(hook);
    }
  }

  // The libuv handle lives in its own allocation: libuv owns it from
  // uv_close() until OnPollerClosed, which may run after the TapHandle is gone.
  struct Poller {
    uv_poll_t handle;
    TapHandle* owner = nullptr;  // receives callbacks; null once detached
    napi_async_cleanup_hook_handle teardown = nullptr;  // removed once closed
  };

  napi_env env_;
  int fd_ = -1;
  std::string name_;
  int mtu_ = 1500;
  bool vnetHdr_ = false;
  int offloadErrno_ = 0;
  int lastWriteErrno_ = 0;
  bool closed_ = false;
  // Busy-polling (ReadBatch): spin budget, adaptivity state and counters.
  uint64_t busyPollNs_ = static_cast<uint64_t>(kBusyPollDefaultUs) * 1000;
  uint64_t lastBatchEndNs_ = 0;
  uint32_t busyPollMissStreak_ = 0;
  uint32_t busyPollCooldown_ = 0;
  double busyPollHits_ = 0;
  double busyPollMisses_ = 0;
  bool refed_ = true;
  napi_async_cleanup_hook_handle teardownHook_ = nullptr;

  Poller* poller_ = nullptr;   // reading
  Poller* closing_ = nullptr;  // uv_close() called, OnPollerClosed not yet run
  uint8_t* rx_ = nullptr;
  uint32_t* rxLengths_ = nullptr;
  uint32_t rxSlotSize_ = 0;
  uint32_t rxSlots_ = 0;
  Napi::ObjectReference rxRef_;
  Napi::ObjectReference lengthsRef_;
  Napi::FunctionReference onRead_;
  Napi::FunctionReference onClose_;
  std::unique_ptr<Napi::AsyncContext> asyncContext_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("TapHandle", TapHandle::Init(env));
  exports.Set("VNET_HDR_SIZE", Napi::Number::New(env, kVnetHdrSize));
  exports.Set("MAX_SLOTS", Napi::Number::New(env, kMaxSlots));
  return exports;
}

}  // namespace

NODE_API_MODULE(tapnet_tap, Init)
