package io.spate.minicluster;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.util.Objects;

import javax.net.SocketFactory;

import org.apache.hadoop.conf.Configurable;
import org.apache.hadoop.conf.Configuration;

/**
 * Hadoop RPC / data-transfer client sockets whose local end is bound to one simulated host's
 * loopback address.
 *
 * <p>A DataNode's RPC to the NameNode would otherwise leave from 127.0.0.1 whatever the DataNode
 * listens on, and the NameNode records the RPC peer address as the DataNode's IP. Configured as
 * {@code hadoop.rpc.socket.factory.class.default} in a DataNode's configuration with
 * {@link #BIND_ADDRESS} = 127.0.0.(k+1), the DataNode registers from that address, so the
 * NameNode, fsck, block locations and clients all see DataNode k at 127.0.0.(k+1):port, where it
 * also listens.
 *
 * <p>Sockets are channel-backed, as Hadoop's timeouts need ({@code StandardSocketFactory} does the
 * same). Factories compare equal when they bind to the same address, so Hadoop's IPC client cache
 * shares connections only between users of the same simulated host.
 */
public final class BoundSocketFactory extends SocketFactory implements Configurable {
  /** Configuration key: local address to bind client sockets to (unset = do not bind). */
  public static final String BIND_ADDRESS = "spate.minicluster.client.bind-address";

  private Configuration conf;
  private String bindHost;

  public BoundSocketFactory() {}

  @Override
  public void setConf(Configuration conf) {
    this.conf = conf;
    String v = conf == null ? null : conf.getTrimmed(BIND_ADDRESS);
    this.bindHost = v == null || v.isEmpty() ? null : v;
  }

  @Override
  public Configuration getConf() {
    return conf;
  }

  @Override
  public Socket createSocket() throws IOException {
    SocketChannel ch = SocketChannel.open();
    if (bindHost != null) {
      try {
        ch.bind(new InetSocketAddress(bindHost, 0));
      } catch (IOException e) {
        ch.close();
        throw new IOException("cannot bind client socket to " + bindHost, e);
      }
    }
    return ch.socket();
  }

  @Override
  public Socket createSocket(String host, int port) throws IOException {
    Socket s = createSocket();
    connect(s, new InetSocketAddress(host, port));
    return s;
  }

  @Override
  public Socket createSocket(InetAddress host, int port) throws IOException {
    Socket s = createSocket();
    connect(s, new InetSocketAddress(host, port));
    return s;
  }

  @Override
  public Socket createSocket(String host, int port, InetAddress localHost, int localPort)
      throws IOException {
    Socket s = SocketChannel.open().socket();
    s.bind(new InetSocketAddress(localHost, localPort));
    connect(s, new InetSocketAddress(host, port));
    return s;
  }

  @Override
  public Socket createSocket(InetAddress host, int port, InetAddress localHost, int localPort)
      throws IOException {
    Socket s = SocketChannel.open().socket();
    s.bind(new InetSocketAddress(localHost, localPort));
    connect(s, new InetSocketAddress(host, port));
    return s;
  }

  private static void connect(Socket s, InetSocketAddress to) throws IOException {
    try {
      s.connect(to);
    } catch (IOException e) {
      s.close();
      throw e;
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof BoundSocketFactory
        && Objects.equals(bindHost, ((BoundSocketFactory) o).bindHost);
  }

  @Override
  public int hashCode() {
    return Objects.hash(BoundSocketFactory.class, bindHost);
  }
}
