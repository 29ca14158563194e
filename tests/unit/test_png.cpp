// PNG pictures (framework/io/png_image): what is written reads back, pixel for pixel, with
// libpng's own reader; text chunks are there; a failure leaves no file behind.
#include <png.h>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <cmath>
#include <filesystem>

#include <gosok/core/error.hpp>
#include <gosok/io/png_image.hpp>

#include "subprocess.hpp"

using Catch::Matchers::ContainsSubstring;

TEST_CASE("png: a picture reads back pixel for pixel, with its text", "[io][png]") {
  gosok::test::TempDir dir;
  gosok::RgbImage image(5, 3, 40);
  const std::uint8_t red[3] = {200, 10, 20}, blue[3] = {5, 60, 190};
  image.set(0, 0, red);
  image.set(4, 2, blue);
  const auto path = dir / "p.png";
  gosok::write_png(path, image, {{"Title", "a test picture"}, {"Description", "two pixels"}});
  CHECK_FALSE(std::filesystem::exists(path.string() + ".tmp"));

  png_image read{};
  read.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_file(&read, path.c_str()) != 0);
  CHECK(read.width == 5);
  CHECK(read.height == 3);
  read.format = PNG_FORMAT_RGB;
  std::vector<std::uint8_t> pixels(PNG_IMAGE_SIZE(read));
  REQUIRE(png_image_finish_read(&read, nullptr, pixels.data(), 0, nullptr) != 0);
  CHECK(pixels == image.pixels);
  CHECK(pixels[0] == 200);
  CHECK(pixels[(2 * 5 + 4) * 3 + 2] == 190);
  CHECK(pixels[3] == 40);
  // tEXt chunks hold keyword, NUL, text, uncompressed.
  const std::string bytes = gosok::test::read_file(path);
  CHECK_THAT(bytes, ContainsSubstring(std::string("tEXtTitle\0a test picture", 24)));
  CHECK_THAT(bytes, ContainsSubstring(std::string("Description\0two pixels", 22)));
}

TEST_CASE("png: colour maps for signed and non-negative fields", "[io][png]") {
  std::uint8_t rgb[3];
  gosok::diverging_colour(0.0, rgb);
  CHECK((rgb[0] == 255 && rgb[1] == 255 && rgb[2] == 255));
  gosok::diverging_colour(1.0, rgb);
  CHECK((rgb[0] > 150 && rgb[2] < 60));  // red
  gosok::diverging_colour(-1.0, rgb);
  CHECK((rgb[2] > 150 && rgb[0] < 60));  // blue
  gosok::diverging_colour(7.0, rgb);     // clamped to the end
  std::uint8_t end[3];
  gosok::diverging_colour(1.0, end);
  CHECK((rgb[0] == end[0] && rgb[1] == end[1] && rgb[2] == end[2]));
  gosok::sequential_colour(0.0, rgb);
  CHECK((rgb[0] == 255 && rgb[1] == 255 && rgb[2] == 255));
  gosok::sequential_colour(1.0, rgb);
  CHECK((rgb[0] < 120 && rgb[1] < 20));  // dark red
  gosok::sequential_colour(std::nan(""), rgb);
  CHECK(rgb[0] == 255);
}

TEST_CASE("png: a picture that cannot be written is an error, and leaves nothing", "[io][png]") {
  gosok::test::TempDir dir;
  const auto path = dir / "no-such-folder" / "p.png";
  CHECK_THROWS_AS(gosok::write_png(path, gosok::RgbImage(2, 2)), gosok::RunError);
  CHECK_THROWS_WITH(gosok::write_png(dir / "e.png", gosok::RgbImage(0, 2)), ContainsSubstring("empty picture"));
  CHECK(std::filesystem::is_empty(dir.path()));
}
