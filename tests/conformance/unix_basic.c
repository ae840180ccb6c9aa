// covers: socket socketpair bind listen connect accept accept4 sendto recvfrom sendmsg recvmsg shutdown getsockname getpeername getsockopt setsockopt
#include "qc.h"
#include <poll.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

static socklen_t mkaddr(struct sockaddr_un *a, const char *path, int abstract) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (abstract) {
        memcpy(a->sun_path + 1, path, strlen(path));
        return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path);
    }
    strcpy(a->sun_path, path);
    return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static int sigpipes;
static void on_pipe(int s) { (void)s; sigpipes++; }

int main(void) {
    char buf[64];
    qc_rep("socket bad type", socket(AF_UNIX, 7, 0));
    qc_rep("socket bad proto", socket(AF_UNIX, SOCK_STREAM, 9));

    int sv[2];
    qc_rep("socketpair stream", socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    qc_rep("write", write(sv[0], "hello", 5));
    qc_rep("read", read(sv[1], buf, sizeof buf));
    qc_rep("send", send(sv[1], "pong", 4, 0));
    qc_rep("recv peek", recv(sv[0], buf, sizeof buf, MSG_PEEK));
    qc_rep("recv", recv(sv[0], buf, 2, 0));
    qc_rep("recv rest", recv(sv[0], buf, sizeof buf, 0));
    qc_rep("recv dontwait", recv(sv[0], buf, sizeof buf, MSG_DONTWAIT));
    int v;
    socklen_t vl = sizeof v;
    qc_rep("SO_TYPE", getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &vl));
    printf("type %d len %d\n", v, vl);
    struct ucred cr;
    socklen_t cl = sizeof cr;
    qc_rep("SO_PEERCRED", getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cr, &cl));
    qc_yes("peercred is me", cr.pid == getpid() && cr.uid == geteuid() && cr.gid == getegid());
    vl = sizeof v;
    qc_rep("SO_ERROR", getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &v, &vl));
    printf("error %d\n", v);
    v = 1;
    qc_rep("SO_PASSCRED set", setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &v, sizeof v));
    qc_rep("SO_REUSEADDR set", setsockopt(sv[0], SOL_SOCKET, SO_REUSEADDR, &v, sizeof v));
    v = 65536;
    qc_rep("SO_SNDBUF set", setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v));
    vl = sizeof v;
    qc_rep("SO_SNDBUF get", getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &vl));
    printf("sndbuf %d\n", v);
    qc_rep("setsockopt short", setsockopt(sv[0], SOL_SOCKET, SO_REUSEADDR, &v, 2));
    qc_rep("getsockopt bad", getsockopt(sv[0], SOL_SOCKET, 999, &v, &vl));
    struct sockaddr_un a;
    socklen_t al = sizeof a;
    qc_rep("getsockname pair", getsockname(sv[0], (struct sockaddr *)&a, &al));
    printf("len %d\n", al);
    al = sizeof a;
    qc_rep("getpeername pair", getpeername(sv[0], (struct sockaddr *)&a, &al));
    printf("len %d\n", al);

    struct pollfd pf = {sv[1], POLLIN | POLLOUT | POLLRDHUP, 0};
    qc_rep("shutdown wr", shutdown(sv[0], SHUT_WR));
    qc_rep("poll after shutdown", poll(&pf, 1, 0));
    printf("revents %#x\n", pf.revents);
    qc_rep("read eof", read(sv[1], buf, sizeof buf));
    signal(SIGPIPE, on_pipe);
    qc_rep("write after shutdown", write(sv[0], "x", 1));
    qc_rep("send nosignal", send(sv[0], "x", 1, MSG_NOSIGNAL));
    printf("sigpipes %d\n", sigpipes);
    qc_rep("shutdown bad", shutdown(sv[0], 9));
    close(sv[1]);
    pf.fd = sv[0];
    pf.events = POLLIN | POLLOUT;
    qc_rep("poll peer closed", poll(&pf, 1, 0));
    printf("revents %#x\n", pf.revents);
    close(sv[0]);

    // Datagrams and seqpackets keep boundaries.
    qc_rep("socketpair dgram", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    send(sv[0], "one", 3, 0);
    send(sv[0], "twothree", 8, 0);
    qc_rep("recv dgram", recv(sv[1], buf, sizeof buf, 0));
    qc_rep("recv trunc", recv(sv[1], buf, 3, MSG_TRUNC));
    close(sv[0]);
    close(sv[1]);
    qc_rep("socketpair seqpacket", socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
    send(sv[0], "abc", 3, 0);
    send(sv[0], "de", 2, 0);
    qc_rep("recv seq", recv(sv[1], buf, sizeof buf, 0));
    qc_rep("recv seq", recv(sv[1], buf, sizeof buf, 0));
    close(sv[0]);
    close(sv[1]);

    // SCM_RIGHTS.
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int efd = eventfd(41, 0);
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {"fd!", 3};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &efd, sizeof(int));
    qc_rep("sendmsg rights", sendmsg(sv[0], &m, 0));
    close(efd);
    char rbuf[8];
    struct iovec riov = {rbuf, sizeof rbuf};
    char rc[CMSG_SPACE(sizeof(int))];
    struct msghdr r = {0};
    r.msg_iov = &riov;
    r.msg_iovlen = 1;
    r.msg_control = rc;
    r.msg_controllen = sizeof rc;
    qc_rep("recvmsg rights", recvmsg(sv[1], &r, MSG_CMSG_CLOEXEC));
    c = CMSG_FIRSTHDR(&r);
    qc_yes("got SCM_RIGHTS", c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS);
    int got;
    memcpy(&got, CMSG_DATA(c), sizeof got);
    unsigned long long cnt = 0;
    qc_rep("read passed eventfd", read(got, &cnt, 8));
    printf("count %llu, cloexec %d, flags %#x\n", cnt, fcntl(got, F_GETFD), r.msg_flags);
    close(sv[0]);
    close(sv[1]);

    // Named stream sockets: bind, listen, connect, accept.
    qc_enter("unix_basic");
    int srv = socket(AF_UNIX, SOCK_STREAM, 0);
    socklen_t len = mkaddr(&a, "sock", 0);
    qc_rep("connect missing", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, len));
    qc_rep("listen unbound", listen(srv, 4));
    qc_rep("bind", bind(srv, (struct sockaddr *)&a, len));
    qc_rep("bind again", bind(srv, (struct sockaddr *)&a, len));
    int cli = socket(AF_UNIX, SOCK_STREAM, 0);
    qc_rep("connect not listening", connect(cli, (struct sockaddr *)&a, len));
    qc_rep("listen", listen(srv, 4));
    qc_rep("connect", connect(cli, (struct sockaddr *)&a, len));
    qc_rep("connect again", connect(cli, (struct sockaddr *)&a, len));
    struct sockaddr_un pa;
    socklen_t pl = sizeof pa;
    int conn = accept4(srv, (struct sockaddr *)&pa, &pl, SOCK_CLOEXEC);
    qc_ok("accept4", conn);
    printf("peer len %d\n", pl);
    pl = sizeof pa;
    qc_rep("getpeername client", getpeername(cli, (struct sockaddr *)&pa, &pl));
    printf("peer %s len %d\n", pa.sun_path, pl);
    pl = sizeof pa;
    qc_rep("getsockname accepted", getsockname(conn, (struct sockaddr *)&pa, &pl));
    printf("name %s len %d\n", pa.sun_path, pl);
    qc_rep("send", send(cli, "ping", 4, 0));
    memset(buf, 0, sizeof buf);
    qc_rep("recv", recv(conn, buf, sizeof buf, 0));
    printf("got %s\n", buf);
    fcntl(srv, F_SETFL, O_NONBLOCK);
    qc_rep("accept nonblock", accept(srv, NULL, NULL));
    fcntl(srv, F_SETFL, 0);
    pid_t pid = fork();
    if (pid == 0) {
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        usleep(20000);
        connect(s, (struct sockaddr *)&a, len);
        write(s, "child", 5);
        _exit(0);
    }
    int c2 = accept(srv, NULL, NULL);
    qc_ok("blocking accept", c2);
    memset(buf, 0, sizeof buf);
    qc_rep("recv waitall", recv(c2, buf, 5, MSG_WAITALL));
    printf("got %s\n", buf);
    waitpid(pid, NULL, 0);
    vl = sizeof v;
    qc_rep("SO_ACCEPTCONN", getsockopt(srv, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl));
    printf("acceptconn %d\n", v);
    close(srv);
    unlink("sock");

    // Abstract datagram sockets.
    int d1 = socket(AF_UNIX, SOCK_DGRAM, 0), d2 = socket(AF_UNIX, SOCK_DGRAM, 0);
    len = mkaddr(&a, "quark-unix-basic-conf", 1);
    qc_rep("bind abstract", bind(d1, (struct sockaddr *)&a, len));
    struct sockaddr_un self;
    self.sun_family = AF_UNIX;
    qc_rep("autobind", bind(d2, (struct sockaddr *)&self, sizeof(sa_family_t)));
    pl = sizeof pa;
    getsockname(d2, (struct sockaddr *)&pa, &pl);
    printf("autobind len %d\n", pl);
    qc_rep("sendto", sendto(d2, "dg", 2, 0, (struct sockaddr *)&a, len));
    pl = sizeof pa;
    qc_rep("recvfrom", recvfrom(d1, buf, sizeof buf, 0, (struct sockaddr *)&pa, &pl));
    printf("from len %d\n", pl);
    qc_rep("send unconnected", send(d2, "x", 1, 0));
    struct sockaddr_un none;
    socklen_t nl = mkaddr(&none, "quark-nobody-here", 1);
    qc_rep("sendto nobody", sendto(d2, "x", 1, 0, (struct sockaddr *)&none, nl));
    qc_rep("connect dgram", connect(d2, (struct sockaddr *)&a, len));
    qc_rep("send connected", send(d2, "yz", 2, 0));
    qc_rep("recv", recv(d1, buf, sizeof buf, 0));
    qc_rep("listen dgram", listen(d1, 1));
    qc_leave();
    return 0;
}
