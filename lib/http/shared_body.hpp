// A Beast body that serves bytes owned elsewhere, without copying them: a /metrics response
// points into the snapshot's text and keeps the snapshot alive until it has been written. Write
// only (responses); requests keep string_body.
#pragma once

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

// Text with shared ownership: either its own string or a view into something an owner keeps.
class SharedText {
 public:
  SharedText() = default;
  SharedText(std::shared_ptr<const void> owner, std::string_view text)
      : owner_(std::move(owner)), text_(text) {}
  SharedText& operator=(std::string text) {
    auto owned = std::make_shared<const std::string>(std::move(text));
    text_ = *owned;
    owner_ = std::move(owned);
    return *this;
  }

  std::string_view view() const { return text_; }
  std::size_t size() const { return text_.size(); }
  bool empty() const { return text_.empty(); }
  void clear() {
    owner_.reset();
    text_ = {};
  }
  friend bool operator==(const SharedText& a, std::string_view b) { return a.text_ == b; }

 private:
  std::shared_ptr<const void> owner_;
  std::string_view text_;
};

struct SharedBody {
  using value_type = SharedText;

  static std::uint64_t size(const value_type& body) { return body.size(); }

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(const boost::beast::http::header<isRequest, Fields>& /*header*/, const value_type& body)
        : body_(body) {}

    void init(boost::beast::error_code& ec) { ec = {}; }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      return {{const_buffers_type(body_.view().data(), body_.size()), false}};
    }

   private:
    const value_type& body_;
  };
};

}  // namespace certwatch::web
