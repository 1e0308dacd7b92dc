import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Read deadlines and a graceful drain for one connection, at the byte level (first in the pipeline,
/// before the HTTP decoder), so that it sees a request start before its head is complete.
///
/// - The head of a request must arrive within `headerTimeout`, counted from the connection's accept
///   or from the first byte of a later request on a kept-alive connection. Else the client gets
///   `408` (if it sent anything) and the connection is closed: a client sending a byte a second
///   cannot hold one of the `--max-connections` slots for longer than that.
/// - Its body must arrive within `bodyTimeout` of the head, else the connection is closed.
/// - On shutdown (`ChannelShouldQuiesceEvent`) a connection that has started a request, or whose
///   request bytes are already in the socket, keeps going until that request is answered; only an
///   idle one is closed at once.
///
/// `ConnectionGuard.Parts`, after the decoder, reports request and response boundaries back to it.
final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The deadlines, from the server configuration.
    struct Limits: Sendable {
        var headerTimeout: TimeAmount
        var bodyTimeout: TimeAmount
    }

    enum Phase {
        /// No byte of a request since the last response (or, with `fresh`, since the accept).
        case waiting
        /// Bytes of a request have arrived, its head is not complete.
        case head
        /// The head is complete, the body is not.
        case body
        /// The request is read; the server has not finished its answer.
        case answering
    }

    let limits: Limits
    var phase = Phase.waiting
    /// Nothing has been answered on this connection yet.
    var fresh = true
    /// Bytes arrived while a response was still being written (a pipelined request).
    var early = false
    var draining = false
    var quiesceForwarded = false
    /// When the phase's time is up; nil while nothing is on the clock.
    var deadline: NIODeadline?
    /// The one pending timer and when it fires. Deadlines change with every request, but a timer
    /// is only scheduled once a read ends with a deadline still open (a request that arrives in
    /// one piece costs none), and a timer that fires early is simply scheduled again.
    var timer: Scheduled<Void>?
    var timerAt: NIODeadline?
    var context: ChannelHandlerContext?

    init(limits: Limits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // A new connection must send its head in time even if it never sends a byte.
        start(limits.headerTimeout)
        schedule(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline = nil
        cancelTimer()
        context.fireChannelInactive()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        schedule(context)
        context.fireChannelReadComplete()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch phase {
        case .waiting:
            phase = .head
            if !fresh { start(limits.headerTimeout) }
        case .answering:
            early = true
        case .head, .body:
            break
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        draining = true
        switch phase {
        case .body:
            forwardQuiesce(context)
        case .answering where !early:
            forwardQuiesce(context)
        case .head, .answering:
            // Hummingbird would close a connection whose head is incomplete (here, or pipelined behind
            // the request being answered): hold the event until that head is in (`headReceived`), so
            // the request is answered and then the connection closed.
            break
        case .waiting:
            // Bytes the client sent before the shutdown may still be unread in the socket. The event
            // loop polls the socket before this task is due, so those bytes arrive first and move
            // the phase on; a connection still waiting after that is idle and closed.
            context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: .milliseconds(20)) {
                if self.phase == .waiting, let context = self.context { self.forwardQuiesce(context) }
            }
        }
    }

    private func forwardQuiesce(_ context: ChannelHandlerContext) {
        guard !quiesceForwarded else { return }
        quiesceForwarded = true
        context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    }

    // MARK: Boundaries reported by `Parts`

    func headReceived() {
        guard let context else { return }
        phase = .body
        early = false
        start(limits.bodyTimeout)
        if draining { forwardQuiesce(context) }
    }

    func endReceived() {
        deadline = nil
        phase = .answering
    }

    func responseEnded() {
        guard let context else { return }
        fresh = false
        switch phase {
        case .answering:
            if early {
                // A pipelined request has begun: its head is on the clock from now.
                early = false
                phase = .head
                start(limits.headerTimeout)
                schedule(context)
            } else {
                phase = .waiting
                if draining { forwardQuiesce(context) }
            }
        case .body:
            // Answered before the body was read (a 413): the body still has to come in time, or
            // the connection is cut.
            break
        case .waiting, .head:
            break
        }
    }

    // MARK: Timer

    private func start(_ amount: TimeAmount) {
        deadline = .now() + amount
    }

    /// Makes sure a timer fires by the open deadline, if there is one.
    private func schedule(_ context: ChannelHandlerContext) {
        guard let deadline else { return }
        if let timerAt, timerAt <= deadline { return }
        cancelTimer()
        timerAt = deadline
        timer = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: deadline) {
            self.timer = nil
            self.timerAt = nil
            self.fired()
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
        timerAt = nil
    }

    private func fired() {
        guard let context, let deadline else { return }
        if NIODeadline.now() < deadline {
            schedule(context)
        } else {
            self.deadline = nil
            expired(context)
        }
    }

    private func expired(_ context: ChannelHandlerContext) {
        switch phase {
        case .head:
            // Nothing of a response is on the wire yet (the head was never decoded): answer 408 in
            // bytes, below the HTTP encoder, then close.
            let error = ServerError.headerTimeout(seconds: Double(limits.headerTimeout.nanoseconds) / 1e9)
            let body = error.body
            var buffer = context.channel.allocator.buffer(capacity: 160 + body.count)
            buffer.writeString("HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: \(body.count)\r\n\r\n")
            buffer.writeBytes(body)
            // The flush writes these few bytes to the socket at once, before the close.
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            context.close(promise: nil)
        case .waiting where fresh:
            context.close(promise: nil)
        case .body:
            context.close(promise: nil)
        case .waiting, .answering:
            break
        }
    }

    /// After the HTTP decoder: tells the guard where requests and responses begin and end, and gives
    /// the `400` Hummingbird writes for a request it cannot parse the JSON error body it lacks.
    final class Parts: ChannelDuplexHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPRequestPart
        typealias InboundOut = HTTPRequestPart
        typealias OutboundIn = HTTPResponsePart
        typealias OutboundOut = HTTPResponsePart

        weak var guardHandler: ConnectionGuard?
        var parseError: HTTPParserError?

        func handlerAdded(context: ChannelHandlerContext) {
            // Absent only when the pipeline was built without a guard (there is then nothing to tell).
            guardHandler = try? context.pipeline.syncOperations.handler(type: ConnectionGuard.self)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let part = unwrapInboundIn(data)
            // Passed on first, so Hummingbird counts the request before a held shutdown reaches it.
            context.fireChannelRead(data)
            switch part {
            case .head: guardHandler?.headReceived()
            case .body: break
            case .end: guardHandler?.endReceived()
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if let error = error as? HTTPParserError { parseError = error }
            context.fireErrorCaught(error)
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            switch unwrapOutboundIn(data) {
            case .head(let head) where head.status == .badRequest && head.headerFields[.contentLength] == "0":
                // Hummingbird's answer to a parse error has no body; every error of this server has one.
                let error = ServerError.malformedHTTP(Parts.describe(parseError))
                let body = error.body
                var fields = head.headerFields
                fields[.contentType] = "application/json"
                fields[.contentLength] = String(body.count)
                context.write(wrapOutboundOut(.head(HTTPResponse(status: head.status, headerFields: fields))), promise: nil)
                context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: body))), promise: promise)
            case .end:
                context.write(data, promise: promise)
                guardHandler?.responseEnded()
            default:
                context.write(data, promise: promise)
            }
        }

        /// One lowercase line for what the decoder refused.
        static func describe(_ error: HTTPParserError?) -> String {
            switch error {
            case .headerOverflow?: return "the request head is larger than 80 KiB or has more than 1000 header fields"
            case .invalidMethod?: return "unknown method"
            case .invalidURL?:
                return "the request target is not a valid path (bytes beyond ASCII must be percent-encoded)"
            case .unexpectedContentLength?:
                return "Content-Length and Transfer-Encoding may not be combined, nor Content-Length repeated"
            case .invalidContentLength?: return "invalid Content-Length"
            case .invalidChunkSize?: return "invalid chunk size in a chunked body"
            case .lfExpected?: return "lines must end with CR LF"
            case .invalidHeaderToken?, .invalidCharactersUsed?: return "invalid character in a header"
            case .invalidConstant?: return "malformed request line"
            case .invalidVersion?: return "unsupported HTTP version"
            case let other?: return "\(other)"
            case nil: return "cannot parse the request"
            }
        }
    }
}

/// Hummingbird's HTTP/1.1 child channel with a `ConnectionGuard` in front of its decoder.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = GuardedConnection
    let inner: HTTP1Channel
    let limits: ConnectionGuard.Limits

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionGuard(limits: limits), position: .first)
        }.flatMap { inner.setup(channel: channel, logger: logger) }.map(GuardedConnection.init)
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value.connection, logger: logger)
    }
}

/// A connection on its way from the accept to `handle`.
///
/// A connection accepted just as shutdown begins can be dropped by the server loop before it is
/// handled; NIO then stops the process ("Deinited NIOAsyncWriter without calling finish()"). This
/// finishes and closes such a connection instead, so a SIGTERM never ends in a crash.
final class GuardedConnection: ServerChildChannelValue {
    let connection: HTTP1Channel.Value
    var channel: any Channel { connection.channel }

    init(_ connection: HTTP1Channel.Value) {
        self.connection = connection
    }

    deinit {
        // After `handle` both are done already, and doing them again does nothing.
        connection.outbound.finish()
        connection.channel.close(promise: nil)
    }
}
