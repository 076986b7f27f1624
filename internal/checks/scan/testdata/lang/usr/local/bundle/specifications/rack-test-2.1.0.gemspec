Gem::Specification.new do |s|
  s.name = "rack-test".freeze
  s.version = "2.1.0"
  s.license = "MIT".freeze
end
