// AMIs, Image Builder images and Parameter Store parameters: where golden images come from and are announced.
import type { SimImage } from "../model";
import { SimAwsError } from "../world";
import { type Route, route, tagList } from "./route";

/** An AMI as DescribeImages lists it. */
function describeImage(image: SimImage) {
  return {
    ImageId: image.imageId,
    Name: image.name,
    OwnerId: image.ownerId,
    State: image.state,
    CreationDate: new Date(image.createdAt).toISOString(),
    DeprecationTime:
      image.deprecatedAt === undefined ? undefined : new Date(image.deprecatedAt).toISOString(),
    Tags: tagList(image.tags),
  };
}

/** AMI, Image Builder and Parameter Store operations. */
export const imageRoutes: Route[] = [
  // By id: an unknown id fails the call; disabled AMIs only with IncludeDisabled; deprecated ones are listed
  // to an id request. https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeImages.html
  route("ec2", "DescribeImages", "ec2:describe", false, (world, input) => {
    const ids = (input.ImageIds ?? []) as string[];
    if (ids.length === 0)
      throw new SimAwsError(
        "InvalidParameterCombination",
        "the simulator answers DescribeImages by ImageIds only",
      );
    const found = ids
      .map((id) => world.images.get(id))
      .filter((image) => image && (image.state !== "disabled" || input.IncludeDisabled));
    const missing = ids.filter((id) => !found.some((image) => image?.imageId === id));
    if (missing.length > 0)
      throw new SimAwsError("InvalidAMIID.NotFound", `The image id '[${missing.join(", ")}]' does not exist`);
    return { Images: found.map((image) => describeImage(image as SimImage)) };
  }),
  route("imagebuilder", "GetImage", "imagebuilder:api", false, (world, input) => {
    const image = world.builtImages.get(input.imageBuildVersionArn);
    if (!image)
      throw new SimAwsError("ResourceNotFoundException", `Image ${input.imageBuildVersionArn} not found`);
    return {
      image: {
        arn: input.imageBuildVersionArn,
        name: image.name,
        version: image.version,
        state: { status: "AVAILABLE" },
        tags: image.tags,
        outputResources: { amis: image.amis },
      },
    };
  }),
  route("ssm", "GetParameter", "ssm:api", false, (world, input) => {
    const parameter = world.parameters.get(input.Name);
    if (!parameter) throw new SimAwsError("ParameterNotFound", `Parameter ${input.Name} not found.`);
    return {
      Parameter: {
        Name: input.Name,
        Type: "String",
        Value: parameter.value,
        Version: parameter.version,
        DataType: "aws:ec2:image",
      },
    };
  }),
];
