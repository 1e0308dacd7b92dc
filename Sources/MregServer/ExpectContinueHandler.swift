import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers `Expect: 100-continue` with an interim `100 Continue`, so clients that ask first (curl does
/// for bodies over 1 MiB) send the body at once instead of after a one-second wait.
///
/// Hummingbird has no hook for interim responses, so this sits in the channel pipeline between the
/// HTTP codec and Hummingbird's request handling.
///
/// A request whose `Content-Length` is over the endpoint's limit gets no `100 Continue`: the server
/// answers `413` without reading the body, and a client must not be invited to send it first.
final class ExpectContinueHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    let maxBody: Int

    init(maxBody: Int) {
        self.maxBody = maxBody
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data), let expect = head.headerFields[.expect],
           expect.lowercased() == "100-continue" {
            let limit = Responder.bodyLimit(path: head.path ?? "/", maxBody: maxBody)
            let declared = head.headerFields[.contentLength].flatMap { Int($0) }
            if declared.map({ $0 <= limit }) ?? true {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
            }
        }
        context.fireChannelRead(data)
    }
}
