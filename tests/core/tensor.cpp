// core/tensor.hpp and core/error.hpp: shapes, batches and their views, and the error format.
#include <gconvnet/core/error.hpp>
#include <gconvnet/core/tensor.hpp>

#include <limits>
#include <sstream>

#include <catch2/catch.hpp>

using namespace gconvnet;

TEST_CASE("Shape: sizes, comparison and printing", "[core][tensor]") {
  const Shape s{3, 5, 7};
  CHECK(s.size() == 105);
  CHECK(s.pixels() == 35);
  CHECK_FALSE(s.empty());
  CHECK((Shape{0, 5, 7}).empty());
  CHECK((Shape{3, 5, 0}).empty());
  CHECK(Shape{}.empty());
  CHECK(s == (Shape{3, 5, 7}));
  CHECK(s != (Shape{3, 7, 5}));
  CHECK(to_string(s) == "3x5x7");
  std::ostringstream os;
  os << s;
  CHECK(os.str() == "3x5x7");
}

TEST_CASE("Batches are (channel, row, column, image), ColMajor, with one column per image", "[core][tensor]") {
  Batch<double> b = make_batch<double>(Shape{2, 3, 4}, 5);
  REQUIRE(shape_of(b) == (Shape{2, 3, 4}));
  REQUIRE(batch_size(b) == 5);
  for (Index i = 0; i < b.size(); ++i) b.data()[i] = static_cast<double>(i);
  // channels of one pixel are contiguous; then rows, columns, images
  CHECK(b(1, 0, 0, 0) == 1.0);
  CHECK(b(0, 1, 0, 0) == 2.0);
  CHECK(b(0, 0, 1, 0) == 6.0);
  CHECK(b(0, 0, 0, 1) == 24.0);
  const auto cols = as_columns(b);
  CHECK(cols.rows() == 24);
  CHECK(cols.cols() == 5);
  CHECK(cols(3, 2) == b(1, 1, 0, 2));
  const auto pix = as_pixel_columns(b);
  CHECK(pix.rows() == 2);
  CHECK(pix.cols() == 60);
  CHECK(pix(1, 13) == b.data()[27]);
  CHECK(as_vector(b).size() == 120);
  CHECK(as_vector(b)(119) == 119.0);
  // the views alias the batch
  as_columns(b)(0, 4) = -1.0;
  CHECK(b(0, 0, 0, 4) == -1.0);
}

TEST_CASE("image_of and as_batch copy one image out of and into a batch", "[core][tensor]") {
  Batch<float> b = make_batch<float>(Shape{2, 2, 3}, 3);
  for (Index i = 0; i < b.size(); ++i) b.data()[i] = static_cast<float>(i);
  const Image<float> im = image_of(b, 2);
  REQUIRE(shape_of(im) == (Shape{2, 2, 3}));
  CHECK(im(1, 1, 2) == b(1, 1, 2, 2));
  const Batch<float> one = as_batch(im);
  REQUIRE(batch_size(one) == 1);
  CHECK(as_vector(one) == as_columns(b).col(2));
}

TEST_CASE("ensure_shape keeps the memory when the extents already match", "[core][tensor]") {
  Batch<double> b;
  ensure_shape(b, Shape{3, 4, 5}, 2);
  REQUIRE(b.size() == 120);
  const double* p = b.data();
  b.setConstant(7.0);
  ensure_shape(b, Shape{3, 4, 5}, 2);
  CHECK(b.data() == p);
  CHECK(b(2, 3, 4, 1) == 7.0);  // contents kept too
  ensure_shape(b, Shape{3, 4, 5}, 3);
  CHECK(batch_size(b) == 3);
  CHECK(shape_of(b) == (Shape{3, 4, 5}));
}

TEST_CASE("all_finite spots NaN and Inf", "[core][tensor]") {
  Batch<double> b = make_batch<double>(Shape{1, 2, 2}, 1);
  b.setZero();
  CHECK(all_finite(b));
  b(0, 1, 1, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_FALSE(all_finite(b));
  b(0, 1, 1, 0) = -std::numeric_limits<double>::infinity();
  CHECK_FALSE(all_finite(b));
}

TEST_CASE("Errors read 'FUNCTION: message' and are std::invalid_argument, NumericalError is separate", "[core][error]") {
  try {
    detail::check(false, "Thing::method", "argument 'x' is ", 3, ", expected ", 4.5);
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) == "Thing::method: argument 'x' is 3, expected 4.5");
  }
  CHECK_NOTHROW(detail::check(true, "Thing::method", "unused"));
  CHECK_THROWS_AS(detail::fail("f", "m"), Error);
  const NumericalError n("diverged");
  const std::runtime_error& r = n;
  CHECK(std::string(r.what()) == "diverged");
  CHECK(dynamic_cast<const std::invalid_argument*>(&r) == nullptr);
}
