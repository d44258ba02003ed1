// A Beast body that serves bytes owned elsewhere, without copying them: a /metrics response
// points into the snapshot's text and keeps the snapshot alive until it has been written. The
// server may append a second piece (its own small metric families) the same way, so the big text
// is never copied to add a few lines. Write only (responses); requests keep string_body.
#pragma once

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace certwatch::web {

// Text with shared ownership: either its own string or a view into something an owner keeps,
// optionally followed by a second such piece (see append).
class SharedText {
 public:
  SharedText() = default;
  SharedText(std::shared_ptr<const void> owner, std::string_view text) {
    pieces_[0] = {std::move(owner), text};
  }
  SharedText& operator=(std::string text) {
    auto owned = std::make_shared<const std::string>(std::move(text));
    const std::string_view view = *owned;
    *this = SharedText(std::move(owned), view);
    return *this;
  }

  // The first piece: all of the text unless append() added more.
  std::string_view view() const { return pieces_[0].text; }
  // Adds `more` after the text; replaces what an earlier append added.
  void append(std::shared_ptr<const std::string> more) {
    const std::string_view view = *more;
    pieces_[1] = {std::move(more), view};
  }
  std::size_t size() const { return pieces_[0].text.size() + pieces_[1].text.size(); }
  bool empty() const { return size() == 0; }
  void clear() { *this = SharedText(); }
  std::array<boost::asio::const_buffer, 2> buffers() const {
    return {boost::asio::buffer(pieces_[0].text.data(), pieces_[0].text.size()),
            boost::asio::buffer(pieces_[1].text.data(), pieces_[1].text.size())};
  }
  friend bool operator==(const SharedText& a, std::string_view b) {
    return a.size() == b.size() && b.substr(0, a.pieces_[0].text.size()) == a.pieces_[0].text &&
           b.substr(a.pieces_[0].text.size()) == a.pieces_[1].text;
  }

 private:
  struct Piece {
    std::shared_ptr<const void> owner;
    std::string_view text;
  };
  std::array<Piece, 2> pieces_;
};

struct SharedBody {
  using value_type = SharedText;

  static std::uint64_t size(const value_type& body) { return body.size(); }

  class writer {
   public:
    using const_buffers_type = std::array<boost::asio::const_buffer, 2>;

    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>& /*header*/, const value_type& body)
        : body_(body) {}

    void init(boost::beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      return {{body_.buffers(), false}};
    }

   private:
    const value_type& body_;
  };
};

}  // namespace certwatch::web
