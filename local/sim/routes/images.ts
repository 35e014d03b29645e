// Image Builder images and Parameter Store parameters: where golden images are announced.
import { SimAwsError } from "../world";
import { type Route, route } from "./route";

/** Image Builder and Parameter Store operations. */
export const imageRoutes: Route[] = [
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
        outputResources: { amis: image.amis.map((ami) => ({ ...ami, accountId: world.accountId })) },
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
